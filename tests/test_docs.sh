#!/bin/sh
# tests/test_docs.sh [BUILD_DIR] - the facts README.md and docs/*.md state that a
# machine can check, checked against the tree, so that the copies cannot drift:
#   version     attnres.h's first-line banner, ATTNRES_VERSION_STRING, the
#               MAJOR.MINOR.PATCH macros, the newest VERSION HISTORY entry and
#               CHANGELOG.md's newest heading name one version
#   counts      every quoted count of test_errors' hostile-input checks equals
#               the count test_errors reports when run; "N `GLOB` files" equals
#               the files GLOB matches; the golden models of test_model (its
#               CASES) and the trained models in models/ as the docs count them;
#               every lesson in lessons/ has a row in the README and course.md;
#               architecture.md's traffic table equals lesson 08's golden output;
#               the README's Layout names every top-level entry and mk/ file,
#               its "Where to go next" every document, testing.md every test
#   config      architecture.md's config list and format.md's metadata table
#               name every attnres_config field
#   API         the README's API table names every public (ATTNRESDEF)
#               function; every attnres_ name in the docs exists in the code
#   make        every `make TARGET` in README/docs and in `make help` is a real
#               target (make -p); make help has a line for every .PHONY target
#               is test_make's check
#   paths       every relative link (and its #anchor) and every repository path
#               named in code (tools/x.c, golden/*.safetensors, ./build/default/X
#               for what plain make builds) exists
#   options     every --option written with attnres-run (and in its README
#               section and docs/cli.md) is in `attnres-run --help`
#   commands    the README's ```sh blocks and docs/testing.md's numdiff block,
#               run line by line in a temporary copy of the tree and its build
#               (default build only: they name build/default). Not run, and said
#               so: `make test` (this test runs inside it), the importer lines
#               (they name a checkpoint you bring: DIR_OR_BIN; test_importers
#               runs the importer), apt-get and `make golden` (root, PyTorch).
#               The README's C program is the prog.c its Installing block builds.
# Run from the repository root; BUILD_DIR defaults to the directory this script
# sits in (the Makefile copies it there as test_docs). Prints ok/FAIL/skip
# lines and "# summary test_docs: P passed, F failed, S skipped".
build=${1:-$(dirname "$0")}; build=${build#./}   # run.sh runs ./BUILD/test_x
tmp=$(mktemp -d "${TMPDIR:-/tmp}/attnres-docs.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0; skipped=0
. tests/lib.sh   # ok, fail, skip: print the line and count it (passed, failed, skipped)
DOCS="README.md $(ls docs/*.md docs/*/*.md)"
# a make of its own (not the outer one's jobserver), never installing packages
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory BUILD="$build" STB_INSTALL=no "$@"; }

# every fenced-block line, indented-block line and inline code span of the
# given markdown files, as FILE<TAB>SECTION HEADING<TAB>CODE (a span may cross
# a line break: a paragraph is joined before it is split at the backticks)
code_of() {
  awk '
    function flush(   n, parts, i) {
      if (para != "") {
        n = split(para, parts, "`")
        for (i = 2; i <= n; i += 2) if (parts[i] != "") print file "\t" section "\t" parts[i]
      }
      para = ""
    }
    FNR == 1 { flush(); fence = 0; file = FILENAME; section = "" }
    /^[ \t]*```/ { flush(); fence = !fence; next }
    fence { print file "\t" section "\t" $0; next }
    /^#+ / { flush(); section = $0; next }
    /^    / && para == "" { print file "\t" section "\t" $0; next }
    /^[ \t]*$/ { flush(); next }
    { para = para " " $0 }
    END { flush() }' "$@"
}
code_of $DOCS > "$tmp/code"

# a number written as a word, as the docs write small counts
word_number() {
  case $(echo "$1" | tr 'A-Z' 'a-z') in
    one) echo 1;; two) echo 2;; three) echo 3;; four) echo 4;; five) echo 5;; six) echo 6;;
    seven) echo 7;; eight) echo 8;; nine) echo 9;; ten) echo 10;; eleven) echo 11;; twelve) echo 12;;
    thirteen) echo 13;; fourteen) echo 14;; fifteen) echo 15;; sixteen) echo 16;; seventeen) echo 17;;
    eighteen) echo 18;; nineteen) echo 19;; twenty) echo 20;; *) echo "$1";;
  esac
}

# ---- version: one number in five places ------------------------------------------
banner=$(sed -n '1s/^.* - v\([0-9][0-9.]*\) - .*/\1/p' attnres.h)
macro=$(sed -n 's/^#define ATTNRES_VERSION_STRING "\(.*\)"/\1/p' attnres.h)
parts=$(for p in MAJOR MINOR PATCH; do sed -n "s/^#define ATTNRES_VERSION_$p  *\([0-9][0-9]*\).*/\1/p" attnres.h; done | paste -sd.)
history=$(sed -n '/^   VERSION HISTORY/,/^   LICENSE/p' attnres.h | sed -n 's/^     \([0-9][0-9.]*\)  .*/\1/p' | head -n 1)
changelog=$(sed -n 's/^## \([0-9][0-9.]*\)$/\1/p' CHANGELOG.md | head -n 1)
if [ -n "$macro" ] && [ "$banner" = "$macro" ] && [ "$parts" = "$macro" ] && [ "$history" = "$macro" ] &&
   [ "$changelog" = "$macro" ]; then
  ok "version $macro: banner, ATTNRES_VERSION_STRING, MAJOR.MINOR.PATCH, VERSION HISTORY, CHANGELOG.md"
else fail "versions differ: banner '$banner', ATTNRES_VERSION_STRING '$macro', macros '$parts'," \
          "VERSION HISTORY '$history', CHANGELOG.md '$changelog'"; fi

# ---- counts quoted in the docs, computed from the tree -----------------------------
# test_errors: its own summary line says how many checks it ran (the log
# tests/run.sh wrote in this run, when it is newer than the program; else a run)
if [ "$build/test_errors.log" -nt "$build/test_errors" ]; then cat "$build/test_errors.log"
else "./$build/test_errors" 2>/dev/null; fi > "$tmp/test_errors.log"
summary=$(sed -n 's/^# summary test_errors: \([0-9]*\) passed, \([0-9]*\) failed.*/\1 \2/p' "$tmp/test_errors.log")
if [ -z "$summary" ]; then fail "counts: ./$build/test_errors printed no summary line"
else
  n_errors=$(( ${summary% *} + ${summary#* } ))
  grep -noE '[0-9][0-9,]*\+? (checks of )?hostile inputs' $DOCS > "$tmp/hostile"
  bad=$(grep -vE ":$n_errors (checks of )?hostile inputs\$" "$tmp/hostile" | tr '\n' ' ')
  if [ ! -s "$tmp/hostile" ]; then fail "counts: no doc quotes the number of hostile-input checks (searched: $DOCS)"
  elif [ -n "$bad" ]; then fail "counts: test_errors runs $n_errors checks of hostile inputs; the docs say: $bad"
  else ok "counts: $(wc -l < "$tmp/hostile") quotes of test_errors' count, each $n_errors (as it reports when run)"; fi
fi

# "N `GLOB` files": the files GLOB matches now
grep -noE '[0-9]+ `[^`]*[*][^`]*` files' $DOCS > "$tmp/globs"
if [ ! -s "$tmp/globs" ]; then fail "counts: no \"N \`GLOB\` files\" in the docs (docs/models.md quotes the golden files)"
else
  while IFS= read -r line; do
    n=$(echo "$line" | sed 's/^[^:]*:[0-9]*:\([0-9]*\) .*/\1/'); glob=$(echo "$line" | sed 's/^[^`]*`\([^`]*\)`.*/\1/')
    have=$(ls -d $glob 2>/dev/null | wc -l)
    if [ "$n" -eq "$have" ]; then ok "counts: ${line%%:*} says $n \`$glob\` files; the tree has $have"
    else fail "counts: ${line%%:*} says $n \`$glob\` files; the tree has $have"; fi
  done < "$tmp/globs"
fi

# the golden models of test_model: the names in its CASES array
n_cases=$(sed -n '/CASES\[\] *= *{/,/NULL/p' tests/test_model.c | sed 's,/\*.*\*/,,' | grep -o '"[a-z0-9_]*"' | wc -l)
grep -noiE '[a-z0-9]+ golden models against PyTorch|`test_model` \| [a-z0-9]+ models' $DOCS > "$tmp/models"
bad=""
while IFS= read -r line; do
  w=$(echo "$line" | sed 's/^[^:]*:[0-9]*://; s/`test_model` | //; s/ .*//')
  [ "$(word_number "$w")" = "$n_cases" ] || bad="$bad ${line%%:*}: '$w'"
done < "$tmp/models"
if [ "$n_cases" -gt 0 ] && [ -s "$tmp/models" ] && [ -z "$bad" ]; then
  ok "counts: test_model's golden models, $n_cases in its CASES, quoted $(wc -l < "$tmp/models") times"
else fail "counts: test_model has $n_cases golden models (CASES); the docs say:$bad (quotes found: $(wc -l < "$tmp/models"))"; fi

# the trained models that ship: models/*.safetensors
n_trained=$(ls models/*.safetensors | wc -l)
grep -noiE '[a-z0-9]+ (small )?(trained|shipped) models' $DOCS > "$tmp/trained"
bad=""
while IFS= read -r line; do
  w=$(echo "$line" | sed 's/^[^:]*:[0-9]*://; s/ .*//')
  case $(word_number "$w") in [0-9]*) [ "$(word_number "$w")" = "$n_trained" ] || bad="$bad ${line%%:*}: '$w'";; esac
done < "$tmp/trained"
if [ -s "$tmp/trained" ] && [ -z "$bad" ]; then ok "counts: the trained models, $n_trained in models/, as the docs count them"
else fail "counts: models/ holds $n_trained trained models; the docs say:$bad"; fi

# every lesson has its row in the README's table and in docs/course.md's
bad=""
for f in lessons/*.c; do
  name=$(basename "$f" .c)
  grep -q "^| \`$name\` |" README.md || bad="$bad README.md:$name"
  grep -q "| \`$name.c\` |" docs/course.md || bad="$bad docs/course.md:$name"
done
rows=$(grep -c '^| `[0-9][0-9]_' README.md)
if [ -z "$bad" ] && [ "$rows" -eq "$(ls lessons/*.c | wc -l)" ]; then ok "counts: each of the $rows lessons has its row in README.md and docs/course.md"
else fail "counts: lessons without a row:$bad; README.md has $rows rows for $(ls lessons/*.c | wc -l) lessons"; fi

# architecture.md's traffic table: the numbers lesson 08's golden output pins
bad=""; n=0
grep '^| [a-z-]* *[A-Za-z]*,* *L=' docs/architecture.md > "$tmp/traffic"
grep '^| standard |' docs/architecture.md >> "$tmp/traffic"
while IFS='|' read -r _ label reads writes total _; do
  label=$(echo "$label" | sed 's/^ *//; s/ *$//; s/,//'); [ "$label" = standard ] && label="standard L=128"
  want=$(echo "$reads $writes $total" | sed 's/d//g' | tr -s ' ')
  want=$(echo $want)   # a row of the lesson: label, reads, writes, total, d, paper, out_r, +, out_w
  got=$(grep "^  $label  " golden/lessons/08_two_phase.txt | awk '{print $(NF-7), $(NF-6), $(NF-5)}')
  n=$((n + 1))
  [ -n "$got" ] && [ "$got" = "$want" ] || bad="$bad '$label': $want vs lesson 08 '$got';"
done < "$tmp/traffic"
if [ "$n" -ge 5 ] && [ -z "$bad" ]; then ok "counts: architecture.md's $n traffic rows equal golden/lessons/08_two_phase.txt"
else fail "counts: architecture.md's traffic table ($n rows) against lesson 08:$bad"; fi

# the README's Layout block: every top-level file and directory, every part in mk/
awk '/^## Layout/ { on = 1 } on && /^```/ { n++; next } on && n == 1' README.md > "$tmp/layout"
missing=""
for f in * .ci mk/*; do
  case $f in build|node_modules) continue;; esac
  name=${f#mk/}; [ -d "$f" ] && name="$f/"
  grep -qF -- "$name" "$tmp/layout" || missing="$missing $f"
done
if [ -s "$tmp/layout" ] && [ -z "$missing" ]; then ok "layout: README's Layout names every top-level entry and every file in mk/"
else fail "layout: README's Layout does not name:$missing"; fi

# the README's "Where to go next" table links every document in docs/
awk '/^## Where to go next/ { on = 1; next } on && /^## / { on = 0 } on' README.md > "$tmp/next"
missing=""
for f in docs/*.md docs/*/README.md; do grep -qF "]($f)" "$tmp/next" || missing="$missing $f"; done
if [ -s "$tmp/next" ] && [ -z "$missing" ]; then ok "layout: README's \"Where to go next\" links every document in docs/"
else fail "layout: README's \"Where to go next\" does not link:$missing"; fi

# every program make test runs has its row in docs/testing.md's table
tests=$(mk -pRrq __no_goal__ 2>/dev/null | sed -n 's/^TESTS := //p' | tail -n 1)
missing=""
for t in $tests check_lessons check_determinism; do
  grep -qE "^\| ([^|]*\`)?(${t}|${t#check_})\`" docs/testing.md || missing="$missing $t"
done
if [ -n "$tests" ] && [ -z "$missing" ]; then ok "layout: docs/testing.md has a row for each of the $(echo $tests | wc -w) test programs and the two checks"
else fail "layout: docs/testing.md has no row for:$missing (TESTS: $tests)"; fi

# ---- config: architecture.md's list names every field of attnres_config -----------
fields=$(sed -n '/^typedef struct {/{h;d;};H;/^} attnres_config;/{x;p;}' attnres.h |
         sed -n 's/^ *\(int\|float\|double\|long\) *\([a-z_][a-z0-9_]*\);.*/\2/p')
config=$(sed -n '/^- \*\*Config\*\*/,/^- \*\*/p' docs/architecture.md)
missing=""
for f in $fields; do echo "$config" | grep -q "\`$f\`" || missing="$missing $f"; done
if [ -n "$fields" ] && [ -z "$missing" ]; then ok "config: architecture.md names all $(echo $fields | wc -w) fields of attnres_config"
else fail "config: architecture.md's config list lacks:$missing (fields read: $(echo $fields | wc -w))"; fi

# format.md's metadata table names every field too (the loader reads each)
missing=""
awk -F'|' '/^\| `/ { print $2 }' docs/format.md > "$tmp/format_keys"   # the first column: the keys
for f in $fields; do grep -q "\`$f\`" "$tmp/format_keys" || missing="$missing $f"; done
if [ -n "$fields" ] && [ -z "$missing" ]; then ok "config: format.md's metadata table names all $(echo $fields | wc -w) fields"
else fail "config: format.md's metadata table lacks:$missing"; fi

# ---- API: the README's table and the header's public functions --------------------
# every ATTNRESDEF function is in "The API at a glance" (a/b shorthand: attnres_sampler_init/free)
sed -n '/^## The API at a glance/,/^## Installing/p' README.md | grep -oE 'attnres_[a-z0-9_]+(/[a-z0-9_]+)*' |
  awk -F/ '{ print $1; base = $1; sub(/_[a-z0-9]+$/, "_", base); for (i = 2; i <= NF; i++) print base $i }' |
  sort -u > "$tmp/api"
grep -oE '^ATTNRESDEF [^(]*[^a-z0-9_]attnres_[a-z0-9_]+\(' attnres.h | grep -oE 'attnres_[a-z0-9_]+\($' | tr -d '(' |
  sort -u > "$tmp/public"
missing=$(comm -23 "$tmp/public" "$tmp/api" | tr '\n' ' ')
if [ -s "$tmp/public" ] && [ -z "$missing" ]; then ok "API: the README's table names all $(wc -l < "$tmp/public") public functions of attnres.h"
else fail "API: public functions of attnres.h missing from the README's table: $missing"; fi
# and every attnres_ name the docs use exists in the tree
missing=""
for n in $(grep -hoE '\battnres_[a-z0-9_]+' $DOCS | sort -u); do
  grep -rqw -- "$n" attnres.h attnres_kernels.c attnres_kernels.cu tools web tests mk Makefile 2>/dev/null || missing="$missing $n"
done
if [ -z "$missing" ]; then ok "API: every attnres_ name in README.md and docs/ exists in the code"
else fail "API: names in the docs that the code does not have:$missing"; fi

# ---- make TARGET: real targets -------------------------------------------------
mk -pRrq __no_goal__ 2>/dev/null | sed -n 's/^\([A-Za-z0-9_.\/-][A-Za-z0-9_.\/-]*\):.*/\1/p' | sort -u > "$tmp/targets"
# the first non-option, non-VAR=value word after each `make` in code
cut -f3 "$tmp/code" | awk '{ for (i = 1; i < NF; i++) if ($i == "make") {
    for (j = i + 1; j <= NF && ($j ~ /^-/ || $j ~ /=/); j++) ;
    if (j <= NF && $j ~ /^[a-z][a-z0-9_.\/-]*$/) print $j } }' |
  sed "s|^build/default/|$build/|" | sort -u > "$tmp/named"
mk -s help 2>/dev/null | sed -n 's/^make \([a-z][a-z0-9_-]*\).*/\1/p' | sort -u > "$tmp/help_named"
missing=$(cat "$tmp/named" "$tmp/help_named" | sort -u | comm -23 - "$tmp/targets" | tr '\n' ' ')
if [ "$(wc -l < "$tmp/targets")" -gt 20 ] && [ -s "$tmp/named" ] && [ -z "$missing" ]; then
  ok "make: the $(cat "$tmp/named" "$tmp/help_named" | sort -u | wc -l) targets named in README, docs/ and make help all exist"
else fail "make: no such target: $missing"; fi

# ---- paths: links and repository paths exist --------------------------------------
# markdown links: [text](path#anchor), relative to the document
slugs() {  # the anchors GitHub makes from FILE's headings
  sed -n 's/^#\{1,6\} //p' "$1" | tr 'A-Z' 'a-z' | sed 's/[^a-z0-9 _-]//g; s/ /-/g'
}
bad=""; n=0
for doc in $DOCS; do
  dir=$(dirname "$doc")
  for link in $(grep -oE '\]\([^)[:space:]]+\)' "$doc" | sed 's/^](//; s/)$//'); do
    case $link in http:*|https:*|mailto:*) continue;; esac
    n=$((n + 1)); path=${link%%#*}; anchor=; case $link in *#*) anchor=${link#*#};; esac
    target=$doc; [ -n "$path" ] && target=$dir/$path
    if [ ! -e "$target" ]; then bad="$bad $doc:($link)"
    elif [ -n "$anchor" ] && ! slugs "$target" | grep -qx "$anchor"; then bad="$bad $doc:($link: no such heading)"; fi
  done
done
if [ "$n" -gt 10 ] && [ -z "$bad" ]; then ok "paths: all $n relative links (and anchors) in README.md and docs/ resolve"
else fail "paths: broken links ($n checked):$bad"; fi

# paths in code: a top-level file or a path under a directory of the tree;
# ./build/default/X only for what plain make builds (programs, lessons), in BUILD_DIR
bad=""; n=0
cut -f3 "$tmp/code" | sed "s/{[^}]*}/*/g" | tr ' \t(),;"=' '\n\n\n\n\n\n\n\n' | sed "s/^'//; s/'\$//; s/'s\$//; s/^\.\///; s/[.:]\$//" |
  grep -E '^(attnres\.h|attnres_kernels\.cu?|Makefile|LICENSE|CHANGELOG\.md|README\.md|\.ci/run|(lessons|tests|tools|golden|docs|mk|models|web)/.*|build/default/(attnres-run|numdiff|test_[a-z_]*|lessons/.*))$' |
  sort -u > "$tmp/paths"
while IFS= read -r p; do
  n=$((n + 1))
  case $p in build/default/*) p=$build/${p#build/default/};; esac
  # placeholders: NN_name is a lesson, <x> and NAME any part of a name
  g=$(echo "$p" | sed 's/NN_name/[0-9][0-9]_*/g; s/<[^>]*>/*/g; s/NAME/*/g')
  # shellcheck disable=SC2086
  set -- $g; [ -e "$1" ] || [ -e "$1.skip" ] && continue
  set -- $g*; [ -e "$1" ] && continue        # a name's prefix: golden/tied for its .model/.expect pair
  case $p in web/node_modules*) continue;; esac   # made by npm ci, like build/
  bad="$bad $p"
done < "$tmp/paths"
if [ "$n" -gt 20 ] && [ -z "$bad" ]; then ok "paths: all $n repository paths named in README.md and docs/ exist"
else fail "paths: named in README.md or docs/ but not in the tree ($n checked):$bad"; fi

# ---- options: attnres-run's options are the ones its --help lists -------------------
if [ -f "$build/attnres-run.skip" ]; then skip "options: attnres-run was not built: $(cat "$build/attnres-run.skip")"
else
  "./$build/attnres-run" --help > "$tmp/help_run" 2>&1
  awk -F '\t' '$3 ~ /attnres-run/ || (($1 == "docs/cli.md" || $2 ~ /attnres-run/) && $3 ~ /^-/)' "$tmp/code" | cut -f3 |
    grep -v -e 'import_model' -e 'quantize\.py' -e 'train\.py' -e 'numdiff' -e 'gdb' |
    grep -oE '(^|[ =])--[a-z][a-z0-9-]*' | sed 's/^[ =]//' | sort -u > "$tmp/options"
  missing=""
  for o in $(cat "$tmp/options"); do grep -qE -- "(^|[ ,])$o([ =,]|\$)" "$tmp/help_run" || missing="$missing $o"; done
  if [ -s "$tmp/options" ] && [ -z "$missing" ]; then ok "options: the $(wc -l < "$tmp/options") attnres-run options in README.md and docs/cli.md are in its --help"
  else fail "options: not in attnres-run --help:$missing"; fi
fi

# ---- commands: the README's sh blocks, run as written in a temporary copy -----------
# fenced ```sh blocks of FILE, one command a line, comments dropped; a blank
# line between blocks (each block is a new shell: B=... lasts one block)
sh_blocks() {
  awk '/^```sh *$/ { on = 1; next } /^```/ { if (on) print ""; on = 0; next } on' "$1" |
    sed 's/[[:space:]]#[[:space:]].*$//; s/[[:space:]]*$//'
}
if [ "$build" != build/default ]; then
  echo "note: the README's commands are run with the default build only (they name ./build/default)"
else
  copy=$tmp/attnres
  mkdir -p "$copy" "$tmp/home"
  tar --exclude=./build --exclude=./.git --exclude=./web/node_modules -cf - . | tar -xf - -C "$copy"
  mkdir -p "$copy/build" && cp -pR "$build" "$copy/build/default"
  # the README's C program is the prog.c that its Installing block compiles
  awk '/^```c *$/ { on = 1; next } /^```/ { on = 0 } on' README.md > "$copy/prog.c"
  { sh_blocks README.md; echo; sh_blocks docs/testing.md; } > "$tmp/commands"
  i=0
  (
    cd "$copy" || exit 1
    export HOME="$tmp/home" STB_INSTALL=no
    unset MAKEFLAGS MFLAGS MAKELEVEL
    while IFS= read -r cmd; do
      case $cmd in
        "") unset B; continue;;
        "make test"|"make test "*) echo "note: not run: '$cmd' (this test runs inside it)"; continue;;
        *DIR_OR_BIN*|*model.safetensors\ --tokenizer*)
          echo "note: not run: '$cmd' (it names a checkpoint you bring; test_importers runs the importer)"; continue;;
        apt-get*|"make golden"*) echo "note: not run: '$cmd' (root and PyTorch; .ci/run does it)"; continue;;
        [A-Z_]*=*) case $cmd in *" "*) ;; *) eval "$cmd"; continue;; esac;;
        *attnres-run*|"make demo"*) [ -f "build/default/attnres-run.skip" ] &&
          { echo "skip '$cmd': attnres-run was not built: $(cat build/default/attnres-run.skip)"; continue; };;
        *pkg-config*) command -v pkg-config > /dev/null ||
          { echo "skip '$cmd': pkg-config is not installed (apt-get install pkgconf)"; continue; };;
      esac
      i=$((i + 1))
      eval "$cmd" < /dev/null > "$tmp/cmd$i.log" 2>&1; st=$?
      if [ "$st" -eq 0 ]; then echo "ok   README command: $cmd"
      else echo "FAIL README command (exit $st): $cmd: $(tail -n 3 "$tmp/cmd$i.log" | tr '\n' ' ')"; fi
    done < "$tmp/commands"
    # what the commands claim to make: the README program's text, the heatmap
    if ! command -v pkg-config > /dev/null; then echo "skip README's C program: pkg-config is not installed"
    elif [ -x a.out ] && ./a.out 2>&1 | grep -q '^The little robot.'; then
      echo "ok   README's C program (built by its Installing block) continues 'The little robot'"
    else echo "FAIL README's C program: not built, or it printed: $(./a.out 2>&1 | head -c 200)"; fi
    if [ -f build/default/attnres-run.skip ]; then echo "skip README commands' pictures: attnres-run was not built"
    elif [ -s depth.png ] && [ -s build/depth_heatmap.png ]; then echo "ok   README commands: depth.png and build/depth_heatmap.png written"
    else echo "FAIL README commands: depth.png or build/depth_heatmap.png missing"; fi
  ) > "$tmp/commands.log" 2>&1
  cat "$tmp/commands.log"
  passed=$((passed + $(grep -c '^ok ' "$tmp/commands.log")))
  failed=$((failed + $(grep -c '^FAIL ' "$tmp/commands.log")))
  skipped=$((skipped + $(grep -c '^skip ' "$tmp/commands.log")))
  grep -q '^ok   README command: ' "$tmp/commands.log" || fail "commands: no README command ran"
fi

echo "# summary test_docs: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
