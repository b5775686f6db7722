// Preloaded (`node -r`) into a measured Node process: at exit, writes its CPU time (µs, user+sys)
// and peak RSS (KiB) to $OTA_BENCH_USAGE. GNU time rounds CPU to 10 ms, too coarse for a check
// that costs tens of milliseconds.
process.on('exit', () => {
  const u = process.resourceUsage();
  require('node:fs').writeFileSync(process.env.OTA_BENCH_USAGE, u.userCPUTime + u.systemCPUTime + ' ' + u.maxRSS);
});
