// The `ai` package's own resume path against a live sselab: DefaultChatTransport's
// reconnectToStream (GET {api}/{chatId}/stream, null on 204), then readUIMessageStream
// assembles the message useChat would show.
//
//   node ui_resume_check.mjs API CHAT_ID      e.g. http://127.0.0.1:8787/ui/chat chat-1
//
// Prints JSON: {resumed: false} for null, else {resumed: true, chunks: [...], message, errors}.
import { DefaultChatTransport, readUIMessageStream } from 'ai';

const [api, chatId] = process.argv.slice(2);
const transport = new DefaultChatTransport({ api });
const source = await transport.reconnectToStream({ chatId, abortSignal: undefined });
if (source === null) {
  process.stdout.write(JSON.stringify({ resumed: false, replay: transport.resumeStreamIsReplay }));
} else {
  const chunks = [];
  const errors = [];
  const parsed = source.pipeThrough(new TransformStream({
    transform(chunk, controller) { chunks.push(chunk); controller.enqueue(chunk); },
  }));
  let message = null;
  for await (const snapshot of readUIMessageStream({
    stream: parsed, onError: (e) => errors.push(String(e?.message ?? e)),
  })) {
    message = snapshot;
  }
  process.stdout.write(JSON.stringify({
    resumed: true, replay: transport.resumeStreamIsReplay, chunks, message, errors,
  }));
}
