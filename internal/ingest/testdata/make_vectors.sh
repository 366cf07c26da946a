#!/bin/sh
# Regenerates signature_vectors.txt with openssl, independently of the Go
# code under test. Each line: secret id timestamp body-file signature.
# A whsec_ secret's key is the base64 text after the prefix (Standard
# Webhooks); any other secret is its own bytes as key.
set -eu
cd "$(dirname "$0")"
sign() { # secret id ts file
	case $1 in
	whsec_*)
		hex=$(printf '%s' "${1#whsec_}" | base64 -d | od -An -tx1 | tr -d ' \n')
		{ printf '%s.%s.' "$2" "$3"; cat "$4"; } | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hex" -binary | base64 ;;
	*)
		{ printf '%s.%s.' "$2" "$3"; cat "$4"; } | openssl dgst -sha256 -hmac "$1" -binary | base64 ;;
	esac
}
{
	echo "# made by make_vectors.sh with $(openssl version | cut -d' ' -f1-2); do not edit"
	for v in \
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw msg_p5jXN8AQM9LWM0D4loKWxJek 1614265330 standardwebhooks_payload.json" \
		"whsec_Y29udG9zby1zZWNyZXQta2V5LTAwMDE= msg_2bVcLr0Mzn6Xb1 1795420800 msi_alert.xml" \
		"fabrikam-raw-secret-0001 msg_7f3a 1795420800 office.xml" \
		"fabrikam-raw-secret-0001 msg_7f3b 1795420999 statuses.xml"; do
		set -- $v
		echo "$1 $2 $3 $4 v1,$(sign "$1" "$2" "$3" "$4")"
	done
} > signature_vectors.txt
