#!/usr/bin/env bash
# The server end to end, with real clients: trains a tiny bundle with the trainer (synthetic data), serves it, and
# checks HTTP/1.1 (curl) and HTTP/2 (nghttp, curl h2c) answers, hot reloads under an h2load run with zero failed
# requests, a corrupt bundle leaving the old one serving, kill -9 of an export leaving a valid `current`, systemd
# notifications, contract tests against openapi.yaml, issue 8's abuse classes, and SIGTERM losing no accepted
# request. Fails naming the check.
# Usage: scripts/server-e2e.sh BIN_DIR
set -euo pipefail
bin=$(cd "${1:-.build/release}" && pwd)
repo=$(pwd)
dir=$(mktemp -d)
server_pid=""
cleanup() { [[ -n "$server_pid" ]] && kill -9 "$server_pid" 2>/dev/null; [[ -n "${KEEP:-}" ]] || rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "server e2e FAILED: $1" >&2; [[ -f "$dir/server.log" ]] && tail -20 "$dir/server.log" >&2; exit 1; }
step() { echo "[e2e] $1" >&2; }

step "tiny bundle: synth → pipeline → export"
cd "$dir"
"$bin/mscgrec-trainer" synth --items 80 --users 300 --name Synth --out ds/synth > /dev/null 2>&1
python3 - "$repo/Tests/PipelineSmoke/tiny.json" > tiny.json <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["models"] = [m for m in c["models"] if m["name"] == "MSCGRec"]
c["models"][0].pop("shapley", None)
print(json.dumps(c))
PY
"$bin/mscgrec-trainer" run --config tiny.json --datasets ds --threads 1 > run.log 2>&1 || { tail run.log; fail "tiny pipeline"; }
run=work/models/mscgrec
"$bin/mscgrec-trainer" export --run $run --out bundles > /dev/null || fail "export"
first=$(readlink bundles/current)

step "start the server (port 0, token, fast watcher)"
MSCGREC_RELOAD_ADMIN_TOKEN=tok MSCGREC_RELOAD_WATCH_INTERVAL_MILLISECONDS=200 \
  "$bin/mscgrec-server" --bundles bundles --port 0 --log-format json > server.out 2> server.log &
server_pid=$!
for _ in $(seq 1 300); do grep -q "serving" server.out 2>/dev/null && break; sleep 0.1; done
port=$(sed -nE 's/.*serving .* on http:\/\/[^:]+:([0-9]+).*/\1/p' server.out)
[[ -n "$port" ]] || fail "the server did not report its port: $(cat server.out)"
url=http://127.0.0.1:$port
body='{"history": ["3", "7", "12"], "k": 5}'

step "HTTP/1.1 and HTTP/2 give the same answer"
h1=$(curl -sf -H 'content-type: application/json' -d "$body" $url/recommend) || fail "curl /recommend"
h2=$(curl -sf --http2-prior-knowledge -H 'content-type: application/json' -d "$body" $url/recommend) || fail "curl h2c /recommend"
printf '%s' "$body" > body.json
h2n=$(nghttp -d body.json -H 'content-type: application/json' $url/recommend) || fail "nghttp /recommend"
[[ "$h1" == "$h2" && "$h1" == "$h2n" ]] || fail "answers differ: $h1 / $h2 / $h2n"
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert len(r["items"])==5 and r["model_version"]==sys.argv[2], r' "$h1" "$first" \
  || fail "unexpected /recommend answer $h1"
[[ $(curl -s -o /dev/null -w '%{http_code}' $url/items/3) == 200 ]] || fail "/items/3"
[[ $(curl -s -o /dev/null -w '%{http_code}' $url/items/no-such) == 404 ]] || fail "/items/no-such"
[[ $(curl -s -o /dev/null -w '%{http_code}' -d '{"history": 3}' $url/recommend) == 422 ]] || fail "422"
[[ $(curl -s -o /dev/null -w '%{http_code}' $url/readyz) == 200 ]] || fail "/readyz"
# (not `curl | grep -q`: grep's early exit would fail the pipeline under pipefail)
curl -s $url/metrics > metrics.txt; grep -q 'mscgrec_http_requests_total{route="/recommend",status="200"}' metrics.txt || fail "/metrics"

step "10 hot reloads during h2load: zero failed requests"
printf '%s' "$body" > post.json
h2load -D 8 -c 4 -m 4 -d post.json -H 'content-type: application/json' $url/recommend > h2load.txt 2>&1 &
load_pid=$!
for i in $(seq 1 10); do
  sleep 0.5
  if (( i % 2 )); then
    "$bin/mscgrec-trainer" export --run $run --out bundles > /dev/null || fail "export $i"
  else
    kill -HUP $server_pid
  fi
done
wait $load_pid || true
grep -E "requests: .* 0 failed, 0 errored" h2load.txt > /dev/null || fail "requests failed during reloads: $(grep requests: h2load.txt)"
loaded=$(grep -c '"message":"bundle loaded"' server.log)
(( loaded >= 11 )) || fail "expected ≥ 11 loads (start + 10), saw $loaded"
step "  $(grep 'requests:' h2load.txt | sed 's/^ *//'); $loaded loads"

step "a corrupt bundle published as current leaves the old one serving"
serving=$(curl -s $url/readyz | python3 -c 'import json,sys; print(json.load(sys.stdin)["model_version"])')
# Corrupted before it becomes current (the watcher would otherwise load it while it is still good).
"$bin/mscgrec-trainer" export --run $run --out staging > /dev/null
bad=$(readlink staging/current)
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2]^=0xff; open(p,"wb").write(b)' staging/$bad/model.safetensors
mv staging/$bad bundles/$bad
ln -s $bad bundles/.next && mv -T bundles/.next bundles/current
sleep 0.5   # the watcher tries it and fails
curl -sf -X POST -H 'authorization: Bearer tok' $url/admin/reload > /dev/null && fail "a corrupt reload answered 2xx"
ready=$(curl -s $url/readyz)
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["status"]=="ready" and r["model_version"]==sys.argv[2] and "SHA-256" in r["last_reload_error"], r' "$ready" "$serving" \
  || fail "after a corrupt bundle: $ready"
[[ $(curl -s -o /dev/null -w '%{http_code}' -d "$body" $url/recommend) == 200 ]] || fail "serving after a corrupt bundle"
curl -s $url/metrics > metrics.txt; grep -q 'mscgrec_reloads_total{result="failure"}' metrics.txt || fail "reload failure not counted"

step "kill -9 of an export in progress leaves a valid current"
"$bin/mscgrec-trainer" export --run $run --out bundles > /dev/null   # a good current again
for delay in 0.02 0.05 0.1 0.2; do
  "$bin/mscgrec-trainer" export --run $run --out bundles > /dev/null & e=$!
  sleep $delay; kill -9 $e 2>/dev/null || true; wait $e 2>/dev/null || true
  target=$(readlink bundles/current)
  [[ -f bundles/$target/manifest.json ]] || fail "current -> $target has no manifest after kill -9"
done
curl -sf -X POST -H 'authorization: Bearer tok' $url/admin/reload > /dev/null || fail "the current left by kill -9 does not load"

step "contract: every endpoint against openapi.yaml (schemathesis)"
# positive_data_acceptance is left out: a schema-valid history of ids unknown to the catalog is rightly a 422.
schemathesis run "$repo/openapi.yaml" --url $url --checks all --exclude-checks positive_data_acceptance \
  --max-examples 50 -H "Authorization: Bearer tok" > contract.txt 2>&1 || { tail -40 contract.txt >&2; fail "contract tests"; }
step "  $(grep -E 'generated|No issues' contract.txt | tr -s ' ' | paste -sd ' ')"

step "abuse: slow headers, slow readers, connection churn, floods"
python3 "$repo/scripts/server-abuse.py" $url > abuse.txt 2>&1 || { cat abuse.txt >&2; fail "abuse"; }

step "SIGTERM loses no accepted request"
for i in $(seq 1 16); do
  curl -s -o "resp.$i" -w '%{http_code}' -d "$body" $url/recommend > "code.$i" &
done
sleep 0.05
kill -TERM $server_pid
wait $server_pid; status=$?
server_pid=""
[[ $status == 0 ]] || fail "exit status $status after SIGTERM"
wait
accepted=0
for i in $(seq 1 16); do
  code=$(cat "code.$i")
  if [[ "$code" == 200 ]]; then accepted=$((accepted + 1)); elif [[ "$code" != 000 && "$code" != 503 ]]; then fail "request $i got $code during shutdown"; fi
done
step "  $accepted of 16 requests accepted before the stop, all answered 200"

step "TLS with ALPN: h2 and HTTP/1.1 over https"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout tls.key -out tls.crt -days 2 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 > /dev/null 2>&1 || fail "openssl req"
MSCGREC_HTTP_TLS_CERTIFICATE=tls.crt MSCGREC_HTTP_TLS_KEY=tls.key "$bin/mscgrec-server" --bundles bundles --port 0 > tls.out 2> tls.log &
server_pid=$!
for _ in $(seq 1 300); do grep -q "serving" tls.out 2>/dev/null && break; sleep 0.1; done
tport=$(sed -nE 's/.*serving .* on http:\/\/[^:]+:([0-9]+).*/\1/p' tls.out)
[[ -n "$tport" ]] || fail "the TLS server did not start: $(cat tls.out)"
v2=$(curl -s --cacert tls.crt --http2 -o tls2.json -w '%{http_version} %{http_code}' -d "$body" https://127.0.0.1:$tport/recommend)
v1=$(curl -s --cacert tls.crt --http1.1 -o tls1.json -w '%{http_version} %{http_code}' -d "$body" https://127.0.0.1:$tport/recommend)
[[ "$v2" == "2 200" && "$v1" == "1.1 200" ]] || fail "TLS: h2 '$v2', http/1.1 '$v1'"
cmp -s tls1.json tls2.json || fail "TLS answers differ"
kill -TERM $server_pid; wait $server_pid || fail "TLS server exit status"; server_pid=""

if [[ -x "$repo/scripts/systemd-notify-check.py" ]]; then
  step "systemd notifications (READY, WATCHDOG, RELOADING, STOPPING)"
  python3 "$repo/scripts/systemd-notify-check.py" -- "$bin/mscgrec-server" --bundles bundles --port 0 > notify.txt 2>&1 \
    || { cat notify.txt >&2; fail "systemd notify check"; }
fi
echo "server e2e passed"
