// The official Node `openai` package against byok's proxy, unchanged but for its base
// URL and key: a chat completion, plain and streamed, and a bad key.
//
// Environment: BYOK_BASE_URL (http://HOST/v1/proxy/openai/v1), BYOK_VIRTUAL_KEY (a
// working key), BYOK_BAD_KEY (a key byok does not accept); NODE_PATH names the folder
// the package is installed in. Exits non-zero with a message on the first failed
// expectation.

const OpenAI = require("openai");

function expect(condition, what) {
  if (!condition) {
    console.error(`openai node sdk: ${what}`);
    process.exit(1);
  }
}

async function main() {
  const baseURL = process.env.BYOK_BASE_URL;
  const client = new OpenAI({ baseURL, apiKey: process.env.BYOK_VIRTUAL_KEY, maxRetries: 0, timeout: 30_000 });
  const messages = [{ role: "user", content: "Say hello." }];

  const answer = await client.chat.completions.create({ model: "gpt-4o-mini", messages });
  expect(answer.choices[0].message.content === "Hello from the fake.", `completion ${JSON.stringify(answer)}`);
  expect(answer.usage.total_tokens === 14, `usage ${JSON.stringify(answer.usage)}`);

  let text = "";
  let usage = null;
  const stream = await client.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true });
  for await (const chunk of stream) {
    if (chunk.choices.length > 0) text += chunk.choices[0].delta.content ?? "";
    if (chunk.usage) usage = chunk.usage;
  }
  expect(text === "Hello from the fake.", `streamed text ${JSON.stringify(text)}`);
  expect(usage !== null && usage.total_tokens === 14, `streamed usage ${JSON.stringify(usage)}`);

  const bad = new OpenAI({ baseURL, apiKey: process.env.BYOK_BAD_KEY, maxRetries: 0, timeout: 30_000 });
  try {
    await bad.chat.completions.create({ model: "gpt-4o-mini", messages });
    expect(false, "a bad key was accepted");
  } catch (e) {
    expect(e instanceof OpenAI.AuthenticationError, `error class ${e && e.constructor && e.constructor.name}: ${e}`);
    expect(e.status === 401 && e.code === "invalid_api_key", `authentication error ${e.status} ${e.code}`);
  }

  console.log("openai node sdk: ok");
}

main().catch((e) => {
  console.error(`openai node sdk: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
