// Preloaded (`node -r`) into a measured Node process: at exit, writes its CPU time (µs, user+sys)
// and peak RSS (KiB) to $OTA_BENCH_USAGE. GNU time rounds CPU to 10 ms, too coarse for a check
// that costs tens of milliseconds. Peak RSS is VmHWM, not getrusage's maxRSS: Linux carries the
// latter across exec, so a child of a large process would report its parent's size.
process.on('exit', () => {
  const u = process.resourceUsage();
  const fs = require('node:fs');
  const hwm = /VmHWM:\s*(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  fs.writeFileSync(process.env.OTA_BENCH_USAGE, u.userCPUTime + u.systemCPUTime + ' ' + (hwm ? hwm[1] : u.maxRSS));
});
