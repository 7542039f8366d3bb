// The official TypeScript SDK client against `dunetrace mcp serve` (issue 13): list the tools, then call
// every one with real arguments. Client.callTool validates structuredContent against the tool's
// outputSchema itself (and fails a tool that publishes a schema but returns none), so a pass here is
// the SDK's own verdict. Also checks that an argument error comes back as one sentence.
//
// Usage: node scripts/mcp_ts_client.mjs MCP_URL     (run by scripts/mcp_conformance.sh; NODE_PATH must
// reach @modelcontextprotocol/sdk). Prints one line per check; exits 1 if any failed.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const url = process.argv[2];
const LC = "langchain-example-agent";
const RUN = "f32094eb-c4aa-4cff-abd9-932921edb15c";
const CALLS = [
  ["list_agents", {}],
  ["summarize_agent", { agent_id: LC }],
  ["get_agent_health", { agent_id: LC }],
  ["get_agent_patterns", { agent_id: LC }],
  ["get_agent_runs", { agent_id: LC, limit: 5 }],
  ["get_agent_signals", { agent_id: LC, limit: 5, severity: "high" }],
  ["get_signal_detail", { signal_id: 77 }],
  ["search_signals", { severity: "HIGH", since_hours: 24 }],
  ["get_run_detail", { run_id: RUN.slice(0, 12) }],
  ["get_instrumentation_guide", { framework: "langgraph" }],
  ["get_agent_token_stats", { agent_id: LC }],
  ["compare_runs", { run_id_1: RUN, run_id_2: "94ece585-01c6-4ffa-8f3f-aec07f160f7b" }],
  ["check_agent", { agent_id: LC, min_score: 50 }],
  ["search_issues", { query: "loop" }],
  ["list_agent_issues", { agent_id: LC }],
  ["get_issue", { issue_id: 1 }],
  ["list_agent_fixes", { agent_id: LC }],
  ["get_fix_status", { signal_id: 77 }],
  ["get_failure_pattern_detail", { agent_id: LC, failure_type: "TOOL_LOOP" }],
  ["list_voice_calls", {}],
  ["get_call_detail", { conversation_id: 1 }],
  ["list_policies", {}],
  ["list_custom_detectors", {}],
];
// A tool error is acceptable when it is one of our sentences (e.g. no such call in the fixtures), never the
// SDK's generic "Error executing tool X" alone (a crash) and never an invalid structuredContent.
const cleanError = (text) => !/^Error executing tool \w+$/.test(text.trim()) && !text.includes("internal error");

let failed = 0;
const report = (ok, name, detail) => {
  console.log(`${ok ? "PASS" : "FAIL"}  ${name.padEnd(44)} ${detail}`);
  if (!ok) failed += 1;
};

const client = new Client({ name: "dunetrace-ts-check", version: "1.0.0" });
await client.connect(new StreamableHTTPClientTransport(new URL(url)));
const { tools } = await client.listTools();
const listed = new Set(tools.map((t) => t.name));
report(CALLS.every(([name]) => listed.has(name)) && listed.size === CALLS.length, "ts-sdk tools/list (every read tool)",
  `${listed.size} tools, ${tools.filter((t) => t.outputSchema).length} with outputSchema`);
for (const [name, args] of CALLS) {
  try {
    const result = await client.callTool({ name, arguments: args });
    const size = JSON.stringify(result.structuredContent ?? {}).length;
    const text = result.content?.[0]?.text ?? "";
    if (result.isError) {
      report(cleanError(text), `ts-sdk tools/call ${name}`, `tool error: ${text.slice(0, 80)}`);
    } else {
      report(result.structuredContent !== undefined, `ts-sdk tools/call ${name}`, `structuredContent valid (${size} chars)`);
    }
  } catch (err) {
    report(false, `ts-sdk tools/call ${name}`, String(err?.message ?? err).slice(0, 200));
  }
}
// paging (issue 13): page 2 of each list tool, and an offset past the end, still validate against the schema
for (const [name, args] of [
  ["search_signals", { limit: 5, offset: 5 }],
  ["get_agent_signals", { agent_id: LC, limit: 5, offset: 5 }],
  ["get_agent_runs", { agent_id: LC, limit: 5, offset: 5 }],
  ["list_agents", { offset: 2 }],
  ["search_issues", { limit: 5, offset: 5 }],
  ["list_agent_issues", { agent_id: LC, status: "all", limit: 2, offset: 2 }],
  ["list_agent_fixes", { agent_id: LC, limit: 5, offset: 5 }],
  ["list_voice_calls", { limit: 5, offset: 5 }],
  ["list_policies", { limit: 5, offset: 5 }],
  ["list_custom_detectors", { limit: 5, offset: 5 }],
  ["search_signals", { offset: 100000 }],
]) {
  try {
    const result = await client.callTool({ name, arguments: args });
    const page = result.structuredContent?.page ?? {};
    const ok = !result.isError && page.offset === args.offset && typeof page.total === "number";
    report(ok, `ts-sdk ${name} offset=${args.offset}`, `page ${JSON.stringify(page)}`);
  } catch (err) {
    report(false, `ts-sdk ${name} offset=${args.offset}`, String(err?.message ?? err).slice(0, 200));
  }
}
const bad = await client.callTool({ name: "search_signals", arguments: { limit: 0 } });
const text = bad.content?.[0]?.text ?? "";
report(bad.isError && text.includes("`limit` must be") && !text.includes("pydantic"), "ts-sdk argument error is one sentence",
  text.slice(0, 120));
await client.close();
process.exit(failed ? 1 : 0);
