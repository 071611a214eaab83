#!/usr/bin/env bash
# hsm-sim and hsmctl over TLS: a throw-away CA and server certificate made
# with the openssl command; the client verifies the server and its name; a
# plain-TCP client is refused.
#   test_tls.sh HSM_SIM HSMCTL TEST_LMK
set -euo pipefail
sim=$1 ctl=$2 lmk_src=$3
command -v openssl >/dev/null || { echo "openssl command missing: skipped"; exit 0; }
dir=$(mktemp -d /tmp/hsmtls.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
cd "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > ext
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile ext 2>/dev/null
cp "$lmk_src" lmk; chmod 600 lmk
"$sim" --lmk lmk --port 0 --port-file port --tls-cert srv.pem --tls-key srv.key 2>log & pid=$!
for _ in $(seq 100); do [ -s port ] && break; sleep 0.05; done
port=$(cat port)
"$ctl" --port "$port" --tls-ca ca.pem --tls-server-name localhost diag | grep -q '^lmk_kcv=' \
  || { echo "FAIL: TLS diag"; cat log; exit 1; }
# Wrong expected name: the client must refuse the server.
if "$ctl" --port "$port" --timeout 1000 --tls-ca ca.pem --tls-server-name other.example diag 2>/dev/null; then
  echo "FAIL: name not checked"; exit 1
fi
# Plain TCP against the TLS port gets no answer.
if "$ctl" --port "$port" --timeout 500 diag 2>/dev/null; then
  echo "FAIL: plain client answered"; exit 1
fi
echo ok
