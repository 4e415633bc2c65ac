// Print every example payload of @octokit/webhooks-examples with its signature from @octokit/webhooks-methods.
//
// Usage: WEBHOOK_SECRET=... node sign_webhook_examples.mjs <index.json>...
// Output (stdout): a JSON array of {source, event, body, signature}; `body` is the exact text that was
// signed (JSON.stringify of the example), so the caller sends body.encode("utf-8") with `signature`.
import { readFile } from "node:fs/promises";
import { sign } from "@octokit/webhooks-methods";

const secret = process.env.WEBHOOK_SECRET;
if (!secret) {
  console.error("set WEBHOOK_SECRET to the secret to sign with");
  process.exit(2);
}
const signed = [];
for (const path of process.argv.slice(2)) {
  for (const webhook of JSON.parse(await readFile(path, "utf8"))) {
    for (const example of webhook.examples) {
      const body = JSON.stringify(example);
      signed.push({ source: path, event: webhook.name, body, signature: await sign(secret, body) });
    }
  }
}
process.stdout.write(JSON.stringify(signed));
