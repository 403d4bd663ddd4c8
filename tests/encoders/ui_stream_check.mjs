// Reads sselab's Vercel UI message stream bytes and runs them through the `ai` package's own
// client path: DefaultChatTransport.processResponseStream (parseJsonEventStream validated by
// uiMessageChunkSchema, exactly what useChat does with a response body), then
// readUIMessageStream, which assembles the UIMessage useChat would hold.
//
//   node ui_stream_check.mjs < body.sse              one stream, read in one piece
//   node ui_stream_check.mjs --batch < cases.json    [{"name", "body" (base64), "splits"}]
//   node ui_stream_check.mjs --fetch URL             POST a useChat request to URL with
//                                                    DefaultChatTransport.sendMessages
//
// Prints JSON: one result (or a list) {name, chunks: [chunk...], message, errors: [text...]};
// with --fetch a failed request gives {name, request_error: {name, statusCode, message}}.
// Install the package with `npm install --prefix tests/encoders` (see package.json).
import { DefaultChatTransport, readUIMessageStream } from 'ai';

async function readStdin() {
  const parts = [];
  for await (const part of process.stdin) parts.push(part);
  return Buffer.concat(parts);
}

function byteStream(body, splits) {
  const cuts = [0, ...(splits || []).filter(s => s > 0 && s < body.length), body.length];
  return new ReadableStream({
    start(controller) {
      for (let i = 1; i < cuts.length; i++) {
        if (cuts[i] > cuts[i - 1]) controller.enqueue(new Uint8Array(body.subarray(cuts[i - 1], cuts[i])));
      }
      controller.close();
    },
  });
}

async function check({ name, body, splits, url }) {
  const chunks = [];
  const errors = [];
  const transport = new DefaultChatTransport({ api: url ?? '/ui/chat', body: { model: 'ui-test-model' } });
  let source;
  if (url) {
    try {
      source = await transport.sendMessages({
        chatId: 'chat-1',
        messages: [{ id: 'u1', role: 'user', parts: [{ type: 'text', text: 'hi' }] }],
        trigger: 'submit-message',
        messageId: undefined,
        abortSignal: undefined,
      });
    } catch (e) {
      return { name, request_error: { name: e?.name, statusCode: e?.statusCode, message: e?.message } };
    }
  } else {
    source = transport.processResponseStream(byteStream(body, splits));
  }
  const parsed = source.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        chunks.push(chunk);
        controller.enqueue(chunk);
      },
    }),
  );
  let message = null;
  for await (const snapshot of readUIMessageStream({
    stream: parsed,
    onError: error => errors.push(String(error?.message ?? error)),
  })) {
    message = snapshot;
  }
  return { name, chunks, message, errors };
}

const input = process.argv.includes('--fetch') ? null : await readStdin();
const fetchAt = process.argv.indexOf('--fetch');
if (fetchAt !== -1) {
  process.stdout.write(JSON.stringify(await check({ name: 'fetch', url: process.argv[fetchAt + 1] })));
} else if (process.argv.includes('--batch')) {
  const cases = JSON.parse(input.toString('utf8'));
  const results = [];
  for (const c of cases) results.push(await check({ ...c, body: Buffer.from(c.body, 'base64') }));
  process.stdout.write(JSON.stringify(results));
} else {
  process.stdout.write(JSON.stringify(await check({ name: 'stdin', body: input, splits: [] })));
}
