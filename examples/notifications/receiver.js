#!/usr/bin/env node
// A webhook receiver for dynamite's notifications (docs/notifications.md), with node's built-ins only.
// It checks X-Dynamite-Signature (HMAC-SHA256 of the raw body under the shared secret), refuses deliveries older
// than five minutes (sentAt is inside the signed body), handles each delivery id once, and prints one line each.
//   DYNAMITE_WEBHOOK_SECRET=... node examples/notifications/receiver.js [port]      (default port 8099)
'use strict';
const crypto = require('node:crypto');
const http = require('node:http');

const secret = process.env.DYNAMITE_WEBHOOK_SECRET;
if (!secret) {
  process.stderr.write('receiver: set DYNAMITE_WEBHOOK_SECRET to the secret the workers sign with\n');
  process.exit(2);
}
const port = Number(process.argv[2] ?? 8099);
const MAX_AGE_MS = 5 * 60 * 1000;
const seen = new Set();

/** Whether `header` is `sha256=<hex HMAC-SHA256 of rawBody>`, compared in constant time. */
function signatureIsValid(rawBody, header) {
  const expected = Buffer.from(`sha256=${crypto.createHmac('sha256', secret).update(rawBody).digest('hex')}`);
  const given = Buffer.from(String(header ?? ''));
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const rawBody = Buffer.concat(chunks); // check the bytes as received, before parsing them
    if (!signatureIsValid(rawBody, req.headers['x-dynamite-signature'])) {
      res.writeHead(401).end('bad signature\n');
      return;
    }
    const delivery = JSON.parse(rawBody.toString('utf8'));
    if (Math.abs(Date.now() - delivery.sentAt) > MAX_AGE_MS) {
      res.writeHead(400).end('too old\n');
      return;
    }
    // A retry of a delivery this receiver already handled (its answer was lost) is acknowledged again, not redone.
    if (!seen.has(delivery.id)) {
      seen.add(delivery.id);
      const { record } = delivery;
      process.stdout.write(`${JSON.stringify({ id: delivery.id, event: delivery.event, service: delivery.service, outcome: record.outcome, reason: record.reason, message: record.message })}\n`);
    }
    res.writeHead(200).end('ok\n');
  });
});
server.listen(port, '127.0.0.1', () => process.stderr.write(`receiver: listening on http://127.0.0.1:${server.address().port}/\n`));
