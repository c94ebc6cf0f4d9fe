// Verifies a Signed Event Webhook request with SendGrid's own Node.js
// verifier, @sendgrid/eventwebhook, unmodified. Run by node_test.go:
//
//   node verify.js PUBLIC_KEY_BASE64 SIGNATURE TIMESTAMP < body
//
// Prints "verified" and exits 0 when the signature holds, prints
// "not verified" and exits 1 when it does not, exits 2 on any other error.
'use strict';

let EventWebhook;
try {
  ({ EventWebhook } = require('@sendgrid/eventwebhook'));
} catch (e) {
  console.error('cannot load @sendgrid/eventwebhook: ' + e.message);
  process.exit(3);
}

const [publicKey, signature, timestamp] = process.argv.slice(2);
if (!publicKey || !signature || !timestamp) {
  console.error('usage: node verify.js PUBLIC_KEY_BASE64 SIGNATURE TIMESTAMP < body');
  process.exit(2);
}

const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', () => {
  try {
    const ew = new EventWebhook();
    // The public key as SendGrid shows it: base64 of the DER, no PEM armour.
    const key = ew.convertPublicKeyToECDSA(publicKey);
    const ok = ew.verifySignature(key, Buffer.concat(chunks), signature, timestamp);
    console.log(ok ? 'verified' : 'not verified');
    process.exit(ok ? 0 : 1);
  } catch (e) {
    console.error('error: ' + e.message);
    process.exit(2);
  }
});
