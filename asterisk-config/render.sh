#!/bin/sh
# Render the deployable Asterisk configuration: copy the committed *.conf files from TEMPLATE
# and write, from the environment, the files they #include (Asterisk never expands ${...}
# in configuration files, so nothing environment-dependent may stay in the templates).
#
#   ASTERISK_ARI_PASSWORD=… ASTERISK_AMI_SECRET=… SEAT_PASSWORD=… \
#   TRUNK_HOST=sip.carrier.example:5060 TRUNK_MATCH=203.0.113.10,203.0.113.0/28 \
#     sh asterisk-config/render.sh asterisk-config /etc/asterisk
#
# Written: ari_secrets.conf, manager_secrets.conf, pjsip_trunk.conf, pjsip_seats.conf,
# queues_members.conf. Optional: SEAT_FIRST (1001), SEAT_LAST (1002), AMI_PERMIT
# (172.16.0.0/255.240.0.0). A missing or multi-line value stops the render with its name.
# POSIX sh and sed only: the Asterisk image has no Python and no envsubst.
set -eu

die() {
  echo "render.sh: $*" >&2
  exit 2
}

[ $# -eq 2 ] || die "usage: render.sh TEMPLATE_DIR OUT_DIR"
template=$1
out=$2
[ -f "$template/pjsip.conf" ] || die "$template has no pjsip.conf: not the template folder"
mkdir -p "$out"
[ "$(cd "$template" && pwd -P)" != "$(cd "$out" && pwd -P)" ] ||
  die "OUT_DIR must differ from TEMPLATE_DIR (secrets are never written into the checkout)"

# value NAME [DEFAULT]: the variable's value, refused when unset, empty or multi-line;
# ';' starts a comment in Asterisk configuration, so it is escaped.
value() {
  eval "v=\${$1-}"
  if [ -z "$v" ]; then
    [ $# -ge 2 ] || die "$1 is not set (required to render the Asterisk configuration)"
    v=$2
  fi
  case $v in
  *"
"*) die "$1 must be a single line" ;;
  esac
  printf '%s' "$v" | sed 's/;/\\;/g'
}

number() {
  n=$(value "$@")
  case $n in
  '' | *[!0-9]*) die "$1 must be a number, not '$n'" ;;
  esac
  printf '%s' "$n"
}

ari_password=$(value ASTERISK_ARI_PASSWORD)
ami_secret=$(value ASTERISK_AMI_SECRET)
ami_permit=$(value AMI_PERMIT 172.16.0.0/255.240.0.0)
seat_password=$(value SEAT_PASSWORD)
seat_first=$(number SEAT_FIRST 1001)
seat_last=$(number SEAT_LAST 1002)
trunk_host=$(value TRUNK_HOST)
trunk_match=$(value TRUNK_MATCH)
[ "$seat_first" -le "$seat_last" ] || die "SEAT_FIRST ($seat_first) is after SEAT_LAST ($seat_last)"

for f in "$template"/*.conf; do
  cp "$f" "$out/"
done

{
  echo "; rendered by render.sh from ASTERISK_ARI_PASSWORD"
  printf '[hotline]\ntype=user\nread_only=no\npassword=%s\n' "$ari_password"
} >"$out/ari_secrets.conf"

{
  echo "; rendered by render.sh from ASTERISK_AMI_SECRET, AMI_PERMIT"
  printf '[hotline]\nsecret=%s\ndeny=0.0.0.0/0.0.0.0\npermit=%s\n' "$ami_secret" "$ami_permit"
  printf 'read=system,call,agent,user,dialplan,originate\n'
  printf 'write=system,call,agent,originate,command\n'
} >"$out/manager_secrets.conf"

{
  echo "; rendered by render.sh from TRUNK_HOST, TRUNK_MATCH"
  printf '[trunk]\ntype=aor\ncontact=sip:%s\n\n' "$trunk_host"
  printf '[trunk]\ntype=identify\nendpoint=trunk\nmatch=%s\n' "$trunk_match"
} >"$out/pjsip_trunk.conf"

echo "; rendered by render.sh: seats $seat_first-$seat_last, SEAT_PASSWORD" >"$out/pjsip_seats.conf"
echo "; rendered by render.sh: every seat in the fallback queue" >"$out/queues_members.conf"
seat=$seat_first
while [ "$seat" -le "$seat_last" ]; do
  printf '\n[%s](seat-template)\nauth=%s-auth\naors=%s\n[%s](seat-aor)\n' \
    "$seat" "$seat" "$seat" "$seat" >>"$out/pjsip_seats.conf"
  printf '[%s-auth](seat-auth)\nusername=%s\npassword=%s\n' \
    "$seat" "$seat" "$seat_password" >>"$out/pjsip_seats.conf"
  printf 'member => PJSIP/%s\n' "$seat" >>"$out/queues_members.conf"
  seat=$((seat + 1))
done
