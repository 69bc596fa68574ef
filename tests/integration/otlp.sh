#!/bin/sh
# placeholder until the OTLP test lands
exit 77
