#!/bin/sh
# The color switch, run inside the nginx container with the active color's upstream file on
# stdin. proxy.ts wraps it into the switch command (`docker exec -i "$NGINX_CONTAINER" sh -c
# '<this script>'`): it drops these comment lines and blank lines, puts in the @NAME@ values
# from nginx-config.ts and indents it, so the script may hold no single quote.
#
# It writes the upstream file (with a generation of its own), keeps the previous one if
# `nginx -t` refuses it, reloads, and returns once the workers serve the new file and the
# previous workers no longer accept connections: a reload is asynchronous, and the deploy is
# done only when traffic has moved. A previous worker renames itself "worker process is
# shutting down" as it closes its listening sockets (it goes on serving the requests and
# streams it has), so its title in /proc tells when it stopped taking new connections.
set -eu
f=@UPSTREAM_FILE@
gen="$(date +%s)-$$"
cp "$f" "$f.previous"
sed "s/@GENERATION_PLACEHOLDER@/$gen/" > "$f.next"
mv "$f.next" "$f"
if ! nginx -t -q; then
  mv "$f.previous" "$f"
  echo "nginx refused the new upstream; the previous one stays active" >&2
  exit 1
fi

# The pids of the workers that accept connections.
workers() {
  for p in /proc/[0-9]*; do
    [ "$(tr -d "\0" 2>/dev/null < "$p/cmdline")" = "nginx: worker process" ] && echo "${p#/proc/}"
  done
  true
}
previous="$(workers)"
nginx -s reload 2>/dev/null

# Wait for the new upstream to answer (30 s), then for the previous workers to stop accepting (10 s).
i=0
until [ "$(curl -fsS @GENERATION_URL@ 2>/dev/null)" = "$gen" ]; do
  i=$((i + 1))
  if [ "$i" -gt 300 ]; then
    mv "$f.previous" "$f"
    echo "nginx did not load the new upstream within 30 s; the previous one stays active" >&2
    exit 1
  fi
  sleep 0.1
done
for w in $previous; do
  i=0
  while [ "$(tr -d "\0" 2>/dev/null < "/proc/$w/cmdline")" = "nginx: worker process" ]; do
    i=$((i + 1))
    if [ "$i" -gt 100 ]; then
      echo "nginx worker $w of the previous upstream still accepts connections after 10 s" >&2
      break
    fi
    sleep 0.1
  done
done
