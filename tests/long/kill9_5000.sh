#!/usr/bin/env bash
# Long: kill -9 the sending agent at 20 random moments during a 5,000-document
# run, restarting it each time; then the same for the receiving agent.
LT_KILL_DOCS=${LT_KILL_DOCS:-5000} LT_KILLS=${LT_KILLS:-20} \
	exec "$(dirname "$0")/../integration/kill9.sh"
