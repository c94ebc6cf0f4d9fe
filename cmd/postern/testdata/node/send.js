// Sends one message through Postern with SendGrid's official @sendgrid/mail,
// unmodified, pointed at Postern's base URL. Input: a JSON object on stdin
// {key, baseUrl, msg} (msg is what sgMail.send takes). Output: one JSON
// line {status, messageId, body} on stdout; exit 0 whatever the status, so
// the test judges it.
const sgMail = require('@sendgrid/mail');

let input = '';
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', async () => {
  const { key, baseUrl, msg } = JSON.parse(input);
  sgMail.setApiKey(key); // resets the base URL: set it afterwards
  sgMail.client.setDefaultRequest('baseUrl', baseUrl);
  try {
    const [resp] = await sgMail.send(msg);
    console.log(JSON.stringify({ status: resp.statusCode, messageId: resp.headers['x-message-id'] || '', body: resp.body }));
  } catch (err) {
    if (err.response) {
      console.log(JSON.stringify({ status: err.code, messageId: '', body: err.response.body }));
      return;
    }
    console.error(err);
    process.exit(2);
  }
});
