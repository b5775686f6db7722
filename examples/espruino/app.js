// An Espruino application kept up to date by ota-client. Upload dist/espruino/ota-client.js,
// ota-client-core.js and ota-client-run.js to the board as the Storage modules "ota-client",
// "ota-client-core" and "ota-client-run", and a default.cfg (JSON) with ota_domain,
// device_id and firmware_version; publish new versions of this file with `ota publish`.
var ota = require("ota-client");
var updater = ota.defaultUpdater();

// On a trial boot, check that the application works, then keep it.
updater.status().then(function (s) {
  if (s.state === "trial") updater.confirm().then(function () { console.log("new version confirmed"); });
});

updater.on("download-progress", function (p) { console.log("OTA " + p.received + "/" + p.total); });
// Checks per default.cfg (auto_update, check_interval); the board reboots into a new version.
updater.start();
