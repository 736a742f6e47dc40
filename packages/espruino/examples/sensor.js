// wgjs example application: a sensor that sends a reading every N seconds through the tunnel.
//
// Runs on the board next to the device build: after `wgjs-flash`, upload this file as `.boot1`
// (it runs after `.boot0`, which starts wgjs), e.g. in the Espruino IDE's Storage view or with
// require('Storage').write('.boot1', <this text>). Settings come from the "app" section of
// wgjs.cfg (the flasher's --app-json FILE or [App] Json):
//   { "host": "10.0.0.1", "port": 5555, "interval": 60, "srcPort": 4000 }
// Each reading is one UDP datagram of JSON to host:port inside the tunnel:
//   {"n":12,"t":21.5,"up":734}   (sequence number, temperature in C, seconds since boot)
// Datagrams back to srcPort are commands: "interval <seconds>" changes the period and is
// answered with "ok <seconds>".
//
// Plain ES5-style JavaScript for the Espruino interpreter (no build step).
(function () {
  var app = (require('Storage').readJSON('wgjs.cfg', 1) || {}).app || {};
  var host = app.host || '10.0.0.1';
  var port = app.port || 5555;
  var srcPort = app.srcPort || 4000;
  var every = (app.interval || 60) * 1000;
  var seq = 0;
  var timer = null;

  function temperature() {
    // The MCU's own sensor; replace with your sensor's reading.
    return typeof E.getTemperature === 'function' ? E.getTemperature() : 0;
  }

  function send() {
    seq++;
    var msg = JSON.stringify({ n: seq, t: Math.round(temperature() * 10) / 10, up: Math.round(getTime()) });
    // Before the first handshake (or while one is under way) the reading is queued by the engine.
    if (!wgjs.sendUdp(host, port, msg, srcPort)) print('sensor: reading ' + seq + ' not sent');
  }

  function schedule() {
    if (timer) clearInterval(timer);
    timer = setInterval(send, every);
  }

  wgjs.onUdp(function (data, ip, sport, dport) {
    if (dport !== srcPort) return;
    var m = /^interval (\d+)$/.exec(E.toString(data));
    if (!m || +m[1] < 1) return;
    every = +m[1] * 1000;
    schedule();
    wgjs.sendUdp(ip, sport, 'ok ' + m[1], srcPort);
  });

  send();
  schedule();
})();
