#!/bin/sh
# busybox acpid's action for the power button (event PWRF/00000080).
poweroff -f
