'use strict';
// Median and spread (min–max) of repeated samples; the runs are few, so
// percentiles would only restate min and max.

function summarize(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s[s.length - 1], n: s.length };
}

/** Runs `fn` warmup + reps times and summarizes what the timed runs returned. */
function repeat(warmup, reps, fn) {
  for (let i = 0; i < warmup; i++) fn();
  const out = [];
  for (let i = 0; i < reps; i++) out.push(fn());
  return summarize(out);
}

function nowNs() {
  return Number(process.hrtime.bigint());
}

module.exports = { summarize, repeat, nowNs };
