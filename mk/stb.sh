#!/bin/sh
# mk/stb.sh STB_INCLUDE STB_INSTALL MISSING_FILE - makes sure the two stb
# headers attnres-run needs (stb_image_write.h, stb_easy_font.h) are in
# STB_INCLUDE. Run by mk/run.mk when a goal builds attnres-run, never at parse
# time.
#   - headers present: removes MISSING_FILE, prints nothing;
#   - missing, STB_INCLUDE is Debian's /usr/include/stb, we are root with
#     apt-get and STB_INSTALL is not "no": installs Debian's libstb-dev,
#     one line before and one after (apt-get update only if the plain
#     install fails);
#   - otherwise (or if the install failed): writes the reason and the one
#     command to run into MISSING_FILE and prints it. The caller then skips
#     attnres-run and the tests that need it.
# Always exits 0: a missing optional dependency is a skip, not a build error;
# the goals that cannot do without it (make demo) check MISSING_FILE.
dir=$1 install=${2:-auto} missing=$3

have() { [ -f "$dir/stb_image_write.h" ] && [ -f "$dir/stb_easy_font.h" ]; }

if have; then rm -f "$missing"; exit 0; fi

if [ "$(id -u)" = 0 ]; then cmd="apt-get install libstb-dev"; else cmd="sudo apt-get install libstb-dev"; fi
reason=""
if [ "$install" = no ]; then
  reason="STB_INSTALL=no"
elif [ "$dir" != /usr/include/stb ]; then
  reason="STB_INCLUDE=$dir is not where Debian's libstb-dev puts them"
  cmd="put stb_image_write.h and stb_easy_font.h (github.com/nothings/stb) in $dir"
elif ! command -v apt-get >/dev/null 2>&1; then
  reason="no apt-get on this machine"
  cmd="install the stb headers and run make STB_INCLUDE=DIR (DIR holding stb_image_write.h and stb_easy_font.h)"
elif [ "$(id -u)" != 0 ]; then
  reason="not root, so the build cannot install libstb-dev"
else
  log="${missing%/*}/stb-install.log"
  echo "stb: stb_image_write.h and stb_easy_font.h are missing; installing Debian's libstb-dev" \
       "(apt-get install libstb-dev; STB_INSTALL=no opts out)"
  export DEBIAN_FRONTEND=noninteractive
  if apt-get install -y -q --no-install-recommends libstb-dev > "$log" 2>&1 ||
     { apt-get update -q >> "$log" 2>&1 &&
       apt-get install -y -q --no-install-recommends libstb-dev >> "$log" 2>&1; }; then
    if have; then
      echo "stb: installed libstb-dev; the headers are in $dir"
      rm -f "$missing"; exit 0
    fi
    reason="libstb-dev is installed but $dir still lacks the headers"
  else
    reason="apt-get install libstb-dev failed (its output: $log)"
  fi
  echo "stb: $reason"
fi
mkdir -p "${missing%/*}"
printf '%s\n' "no stb headers in $dir ($reason); to build attnres-run: $cmd" > "$missing"
echo "stb: $(cat "$missing")"
exit 0
