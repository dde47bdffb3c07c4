#!/bin/sh
# Renders the Asterisk configuration from the committed templates (mounted read-only at
# /etc/asterisk-template) and the environment, then starts Asterisk. Nothing secret lives in
# the repository, and nothing rendered is written back into the checkout.
set -eu
template=/etc/asterisk-template
conf=/etc/asterisk
mkdir -p "$conf"
# Only the rendered set: the image's sample files would configure modules nobody asked for.
find "$conf" -maxdepth 1 -name '*.conf' -exec rm -f {} +
sh "$template/render.sh" "$template" "$conf"
if id asterisk >/dev/null 2>&1; then
  chown asterisk:asterisk "$conf"/*.conf
  chmod 640 "$conf"/*.conf
fi
exec asterisk -f -vvv
