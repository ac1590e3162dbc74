#!/usr/bin/env bash
# Long: the federation test with the issue's numbers: 2,000 documents each
# way between a province and a ministry through the national platform (two
# relay hops), 500 from a second province to the first (through a third
# relay), the relay of the province killed with kill -9 five times, its link
# flapping for a minute, the national broker stopped for a minute.
LT_FED_DOCS=${LT_FED_DOCS:-2000} LT_FED_LOCAL=${LT_FED_LOCAL:-200} LT_FED_DOCS2=${LT_FED_DOCS2:-500} \
	LT_FED_KILLS=${LT_FED_KILLS:-5} LT_FED_FLAP=${LT_FED_FLAP:-60} \
	LT_FED_NGSP_STOP=${LT_FED_NGSP_STOP:-60} \
	exec "$(dirname "$0")/../integration/federation.sh"
