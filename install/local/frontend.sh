#!/usr/bin/env bash
# Gets the original cube-studio web front end — the build published in
# tencentmusic/cube-studio at commit b7ed2f08 (myapp/static/appbuilder/frontend) and the
# /static/ files its pages load (myapp/static/assets) — into a cache folder, and
# prints the two variables that serve it:
#     FRONTEND_DIR=<cache>/bundle
#     STATIC_DIR=<cache>/static
# Exits 1 (with the reason on stderr) when it cannot get them, e.g. without network.
#
# FRONTEND_SOURCE  where the repository's files are read (default: GitHub's raw files at
#                  the pinned commit; any URL curl reads, file:// included)
# FRONTEND_CACHE   the cache folder (default: ~/.cache/cube-studio-rs/frontend-b7ed2f08)
#
# FRONTEND_EDITOR  the pipeline DAG editor (/static/appbuilder/vison/): `auto` (default)
#                  builds it when node and npm are installed and no earlier build failed,
#                  `1` builds it (again), `0` never
#
# index.html of that build names a main script the build does not contain; it is repaired
# from asset-manifest.json. The pipeline DAG editor is not published built: it is built
# from the same commit's myapp/vision source (the files install/local/vision-files.txt
# lists) with npm, its package-lock.json pointed at the public npm registry (~3 minutes on
# two cores; log in <cache>/editor-build.log). Without it the rest of the UI works and the
# dashboard's /static/appbuilder/vison/index.html says how to get it.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"

COMMIT=b7ed2f08396fe8c90b8d453eff0412f715b48408
SOURCE="${FRONTEND_SOURCE:-https://raw.githubusercontent.com/tencentmusic/cube-studio/$COMMIT}"
CACHE="${FRONTEND_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cube-studio-rs/frontend-${COMMIT:0:8}}"

say() {
  echo "FRONTEND_DIR=$CACHE/bundle"
  echo "STATIC_DIR=$CACHE/static"
}

# Builds the pipeline editor into <static dir>/appbuilder/vison; 1 (reason on stderr) if
# it cannot.
build_editor() { # <static dir> <log file>
  local static="$1" log="$2" work src f
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "frontend.sh: node/npm not installed: the pipeline editor is not built" >&2
    return 1
  fi
  work="$(mktemp -d)"
  src="$work/myapp/vision"
  echo "frontend.sh: building the pipeline editor from myapp/vision with npm (log: $log)" >&2
  while read -r f; do
    case "$f" in '#'* | '') continue ;; esac
    mkdir -p "$(dirname "$src/$f")"
    if ! curl -fsSL --connect-timeout 10 --max-time 120 "$SOURCE/myapp/vision/$f" -o "$src/$f"; then
      echo "frontend.sh: cannot fetch $SOURCE/myapp/vision/$f: the pipeline editor is not built" >&2
      rm -rf "$work"
      return 1
    fi
  done < "$HERE/vision-files.txt"
  # the lock file resolves from a private mirror; the public registry has the same
  # tarballs (the integrity hashes still match)
  sed -i 's#https://mirrors.tencent.com/npm/#https://registry.npmjs.org/#g' "$src/package-lock.json"
  rm -f "$src/.yarnrc"
  # config-overrides.js writes the build to ../static/appbuilder/vison
  if ! (cd "$src" && npm ci --no-audit --no-fund --loglevel=error \
          && CI=false PUBLIC_URL=/static/appbuilder/vison/ GENERATE_SOURCEMAP=false npm run build) \
        > "$log" 2>&1 \
     || [ ! -f "$work/myapp/static/appbuilder/vison/index.html" ]; then
    echo "frontend.sh: the pipeline editor's npm build failed (see $log)" >&2
    rm -rf "$work"
    return 1
  fi
  rm -rf "$static/appbuilder/vison"
  mkdir -p "$static/appbuilder"
  mv "$work/myapp/static/appbuilder/vison" "$static/appbuilder/vison"
  rm -rf "$work"
  echo "frontend.sh: the pipeline editor is in $static/appbuilder/vison" >&2
}

# the editor, when wanted and not there yet (a failed build is retried only on request)
maybe_editor() {
  local want="${FRONTEND_EDITOR:-auto}"
  [ "$want" = 0 ] && return 0
  [ -f "$CACHE/static/appbuilder/vison/index.html" ] && [ "$want" != 1 ] && return 0
  if [ "$want" = auto ] && [ -f "$CACHE/editor.failed" ]; then
    echo "frontend.sh: the pipeline editor is not built (its build failed at $(cat "$CACHE/editor.failed")); FRONTEND_EDITOR=1 retries" >&2
    return 0
  fi
  if build_editor "$CACHE/static" "$CACHE/editor-build.log"; then
    rm -f "$CACHE/editor.failed"
  else
    date -u +"%Y-%m-%dT%H:%M:%SZ" > "$CACHE/editor.failed"
  fi
  return 0
}

if [ -f "$CACHE/bundle/index.html" ]; then
  maybe_editor
  say
  exit 0
fi

# what the pages load from /static/ (myapp/static/…)
STATIC_FILES="
assets/images/loading.gif
assets/images/aihub_loading.gif
assets/images/noimg.png
assets/images/404.jpg
assets/images/dataset.png
assets/images/home/add.png
assets/images/ad/video-cover1-thumb.png
assets/images/ad/video-cover2-thumb.png
assets/images/dataset/mnist.png
assets/images/dataset/fashion-mnist.png
assets/images/pipeline/tree.jpg
assets/images/pipeline/yolo.jpg
assets/images/pipeline/deepseek.jpg
assets/images/pipeline/chatglm.png
assets/images/pipeline/chatglm3.png
appbuilder/assets/favicon.ico
appbuilder/assets/fonts/fabric-icons-0-467ee27f.woff
appbuilder/assets/fonts/fabric-icons-11-2a8393d6.woff
appbuilder/assets/fonts/fabric-icons-16-9cf93f3b.woff
appbuilder/assets/fonts/fabric-icons-2-63c99abf.woff
appbuilder/assets/fonts/fabric-icons-3-089e217a.woff
appbuilder/assets/fonts/fabric-icons-5-f95ba260.woff
appbuilder/assets/fonts/fabric-icons-6-ef6fd590.woff
appbuilder/assets/fonts/fabric-icons-8-6fdf1528.woff
appbuilder/assets/fonts/fabric-icons-a13498cf.woff
appbuilder/assets/fonts/segoeui-westeuropean/segoeui-bold.woff2
appbuilder/assets/fonts/segoeui-westeuropean/segoeui-regular.woff2
appbuilder/assets/fonts/segoeui-westeuropean/segoeui-semibold.woff2
"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fetch() { # <repository path> <file>
  mkdir -p "$(dirname "$2")"
  if ! curl -fsSL --connect-timeout 10 --max-time 120 "$SOURCE/$1" -o "$2"; then
    echo "frontend.sh: cannot fetch $SOURCE/$1" >&2
    exit 1
  fi
}

front=myapp/static/appbuilder/frontend
fetch "$front/asset-manifest.json" "$tmp/bundle/asset-manifest.json"
for f in index.html manifest.json robots.txt cubeStudioLogo.png; do
  fetch "$front/$f" "$tmp/bundle/$f"
done
# every file the manifest lists, at its path under /frontend/
for p in $(grep -o '"/frontend/[^"]*"' "$tmp/bundle/asset-manifest.json" | tr -d '"' | sort -u); do
  fetch "$front/${p#/frontend/}" "$tmp/bundle/${p#/frontend/}"
done
main_js="$(grep -o '"main.js": *"[^"]*"' "$tmp/bundle/asset-manifest.json" | grep -o '/frontend/[^"]*')"
if [ -z "$main_js" ]; then
  echo "frontend.sh: asset-manifest.json names no main.js" >&2
  exit 1
fi
# the published index.html names another main script: point it at the manifest's
sed -i -E "s#/frontend/static/js/main\.[0-9a-f]+\.js#$main_js#" "$tmp/bundle/index.html"
for f in $STATIC_FILES; do
  fetch "myapp/static/$f" "$tmp/static/$f"
done
mkdir -p "$(dirname "$CACHE")"
rm -rf "$CACHE.partial"
mv "$tmp" "$CACHE.partial"
trap - EXIT
rm -rf "$CACHE"
mv "$CACHE.partial" "$CACHE"
echo "frontend.sh: the original's front end is in $CACHE" >&2
maybe_editor
say
