// The API's names for kernel enum values: the header's spelling in kebab case
// (IBV_ACCESS.REMOTE_WRITE is 'remote-write'), so that seam/ keeps the one
// spelling and the names cannot drift from it.

export type Kebab<S extends string> = S extends `${infer A}_${infer B}` ? `${Lowercase<A>}-${Kebab<B>}` : Lowercase<S>;

export function kebab<K extends string>(key: K): Kebab<K> {
  return key.toLowerCase().replace(/_/g, '-') as Kebab<K>;
}

/** An enum's values by API name, in the header's order. */
export function byName<E extends Record<string, number>>(e: E): Map<Kebab<keyof E & string>, number> {
  return new Map(Object.entries(e).map(([k, v]) => [kebab(k) as Kebab<keyof E & string>, v]));
}

/** An enum's API names by value. */
export function byValue<E extends Record<string, number>>(e: E): Map<number, Kebab<keyof E & string>> {
  return new Map(Object.entries(e).map(([k, v]) => [v, kebab(k) as Kebab<keyof E & string>]));
}
