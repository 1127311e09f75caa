#!/bin/sh
# A Runlet function in any language: the request body arrives on stdin and what the program
# prints is the response. Exit 0 answers 200; any other exit code answers 500 with the end of
# stderr. Request details are in the environment: Http_Method, Http_Path, Http_Query and
# one Http_<Header> per header (Http_Content_Type, Http_X_Call_Id, …).
# Lines written to stderr go to the function's logs (runlet logs NAME).
set -eu

name=$(cat)
if [ -z "$name" ]; then
  name=world
fi
echo "greeting $name (call ${Http_X_Call_Id:-none})" >&2
printf 'Hello, %s!\n' "$name"
