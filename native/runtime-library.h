#pragma once
#include <string>

// A shared library opened at run time (dlopen), so the addon builds and loads
// where it is missing, and its entry points, resolved at the symbol versions
// a program built against its headers binds to. It stays loaded for the life
// of the process: it is shared by every environment (dlopen counts
// references anyway), and what it loads in turn keeps pointers into it.
class RuntimeLibrary {
 public:
  // `remedy` says how to install it, for the error.
  RuntimeLibrary(const char* name, const char* remedy);

  // Resolves `symbol@version` (`version` null: unversioned) into `slot`; a
  // required one that is missing makes Finish fail. Nothing is resolved
  // where the library did not open.
  template <typename Fn>
  void Require(Fn* slot, const char* symbol, const char* version) {
    *slot = reinterpret_cast<Fn>(Resolve(symbol, version));
    if (!*slot && handle_ && missing_.empty()) missing_ = version ? std::string(symbol) + "@" + version : symbol;
  }
  // The same for an entry point older releases lack; `slot` stays null there.
  template <typename Fn>
  void Optional(Fn* slot, const char* symbol, const char* version) {
    *slot = reinterpret_cast<Fn>(Resolve(symbol, version));
  }

  // After the symbols: whether the library opened and had every required
  // one. If not, error() says what is missing and how to install it.
  bool Finish();
  const std::string& error() const { return error_; }

 private:
  void* Resolve(const char* symbol, const char* version) const;

  void* handle_ = nullptr;
  std::string name_;
  std::string remedy_;
  std::string missing_;
  std::string error_;
};

// A library's table of entry points, filled once per process on first use
// by `resolve`, with whether the library loaded and, if not, why.
template <typename Table>
struct LoadedTable {
  Table table = {};
  bool ok = false;
  std::string error;
};

template <typename Table>
const LoadedTable<Table>* LoadTable(const char* name, const char* remedy, void (*resolve)(RuntimeLibrary&, Table&)) {
  auto* loaded = new LoadedTable<Table>();
  RuntimeLibrary library(name, remedy);
  resolve(library, loaded->table);
  loaded->ok = library.Finish();
  loaded->error = library.error();
  return loaded;
}
