// The Vercel AI SDK (ai + @ai-sdk/openai) with its own OpenTelemetry spans, exporting OTLP/HTTP
// (experimental_telemetry): a call, a streamed call and a call the server fails.
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, streamText } from "ai";

const MODEL = "gpt-4o-mini";
const PROMPT = "Say hello.";
const FAILING_PROMPT = "Say hello. [[fail 500]]";

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ "service.name": "vercel-ai" }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: process.env.OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/traces" }))],
});
provider.register();

const openai = createOpenAI({ baseURL: process.env.OPENAI_BASE_URL, apiKey: "test" });
const telemetry = { isEnabled: true, functionId: "greeting", metadata: { userId: "u-42", "llmledger.team": "web" } };

const answer = (await generateText({ model: openai.chat(MODEL), prompt: PROMPT, experimental_telemetry: telemetry, maxRetries: 0 })).text;
const stream = streamText({ model: openai.chat(MODEL), prompt: PROMPT, experimental_telemetry: telemetry, maxRetries: 0 });
let streamed = "";
for await (const part of stream.textStream) streamed += part;
let error = "";
try {
  await generateText({ model: openai.chat(MODEL), prompt: FAILING_PROMPT, experimental_telemetry: telemetry, maxRetries: 0 });
} catch (exc) {
  error = exc.constructor.name;
}
if (!error) { console.error("the failing call did not fail"); process.exit(1); }
await provider.shutdown();
console.log(JSON.stringify({ answer, streamed, error }));
