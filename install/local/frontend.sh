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
# index.html of that build names a main script the build does not contain; it is repaired
# from asset-manifest.json. Not fetched: the pipeline DAG editor
# (/static/appbuilder/vison/), which has to be built from the same commit's myapp/vision
# with npm (see the original's README); the rest of the UI works without it.
set -euo pipefail

COMMIT=b7ed2f08396fe8c90b8d453eff0412f715b48408
SOURCE="${FRONTEND_SOURCE:-https://raw.githubusercontent.com/tencentmusic/cube-studio/$COMMIT}"
CACHE="${FRONTEND_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cube-studio-rs/frontend-${COMMIT:0:8}}"

say() {
  echo "FRONTEND_DIR=$CACHE/bundle"
  echo "STATIC_DIR=$CACHE/static"
}
if [ -f "$CACHE/bundle/index.html" ]; then
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
say
