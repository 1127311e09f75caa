#!/bin/sh
# Run with: sh test.sh
set -eu
cd "$(dirname "$0")"

expect() {
  if [ "$2" != "$3" ]; then
    echo "FAIL $1: expected '$3', got '$2'" >&2
    exit 1
  fi
  echo "ok $1"
}

expect "greets by name" "$(printf 'Ada' | sh handler.sh 2>/dev/null)" "Hello, Ada!"
expect "greets the world" "$(sh handler.sh </dev/null 2>/dev/null)" "Hello, world!"
