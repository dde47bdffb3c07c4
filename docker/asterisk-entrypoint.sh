#!/bin/sh
# Writes the secret parts of the Asterisk configuration from the environment, then starts
# Asterisk. Nothing secret lives in the repository.
set -eu
conf=/etc/asterisk
: "${ASTERISK_ARI_PASSWORD:?set ASTERISK_ARI_PASSWORD}"
: "${ASTERISK_AMI_SECRET:?set ASTERISK_AMI_SECRET}"
printf '[hotline]\ntype=user\nread_only=no\npassword=%s\n' "$ASTERISK_ARI_PASSWORD" \
  > "$conf/ari_secrets.conf"
printf '[hotline]\nsecret=%s\ndeny=0.0.0.0/0.0.0.0\npermit=%s\nread=system,call,agent,user,dialplan,originate\nwrite=system,call,agent,originate,command\n' \
  "$ASTERISK_AMI_SECRET" "${AMI_PERMIT:-172.16.0.0/255.240.0.0}" > "$conf/manager_secrets.conf"
: > "$conf/pjsip_secrets.conf"
for seat in $(seq "${SEAT_FIRST:-1001}" "${SEAT_LAST:-1002}"); do
  printf '[%s-auth](seat-auth)\nusername=%s\npassword=%s\n' "$seat" "$seat" \
    "${SEAT_PASSWORD:?set SEAT_PASSWORD}" >> "$conf/pjsip_secrets.conf"
done
exec asterisk -f -vvv
