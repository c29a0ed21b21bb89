// The Vercel AI SDK (ai, @ai-sdk/openai, @ai-sdk/anthropic) with its own OpenTelemetry spans
// (experimental_telemetry), exporting OTLP/HTTP: through OpenAI a call, a streamed call and a
// call the server fails; through Anthropic a call and a streamed call.
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, streamText } from "ai";

const PROMPT = "Say hello.";
const FAILING_PROMPT = "Say hello. [[fail 500]]";  // the fake OpenAI server answers it with a 500

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ "service.name": "vercel-ai" }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: process.env.OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/traces" }))],
});
provider.register();

const openai = createOpenAI({ baseURL: process.env.OPENAI_BASE_URL, apiKey: process.env.OPENAI_API_KEY });
const anthropic = createAnthropic({ baseURL: process.env.ANTHROPIC_BASE_URL, apiKey: process.env.ANTHROPIC_API_KEY });
const gpt = openai.chat("gpt-4o-mini");
const claude = anthropic("claude-sonnet-4-5");
// Who made the calls: the app's telemetry metadata and function id.
const telemetry = { isEnabled: true, functionId: "greeting", metadata: { userId: "u-42", "llmledger.team": "web" } };
const options = { prompt: PROMPT, experimental_telemetry: telemetry, maxRetries: 0 };

async function streamed(model) {
  let text = "";
  for await (const part of streamText({ model, ...options }).textStream) text += part;
  return text;
}

const answer = (await generateText({ model: gpt, ...options })).text;
const streamedAnswer = await streamed(gpt);
let error = "";
try {
  await generateText({ model: gpt, ...options, prompt: FAILING_PROMPT });
} catch (exc) {
  error = exc.constructor.name;
}
if (!error) { console.error("the failing call did not fail"); process.exit(1); }
const claudeAnswer = (await generateText({ model: claude, ...options })).text;
const claudeStreamed = await streamed(claude);
await provider.shutdown();
console.log(JSON.stringify({ answer, streamed: streamedAnswer, error, claude: claudeAnswer, claude_streamed: claudeStreamed }));
