# Prints the home of a JDK >= 25 or fails with a message saying what to install.
ds4j_jdk_major() {  # $1 = JDK home
  [ -x "$1/bin/javac" ] || return 1
  "$1/bin/java" -XshowSettings:properties -version 2>&1 \
    | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -1
}
ds4j_find_jdk() {
  local cand major
  for cand in "${JAVA_HOME:-}" $(ls -d /usr/lib/jvm/*/ 2>/dev/null | sort -rV) \
              "$(dirname "$(dirname "$(readlink -f "$(command -v javac 2>/dev/null || echo /nonexistent)")")")"; do
    cand="${cand%/}"
    [ -n "$cand" ] || continue
    major="$(ds4j_jdk_major "$cand" 2>/dev/null || true)"
    if [ -n "$major" ] && [ "$major" -ge 25 ]; then echo "$cand"; return 0; fi
  done
  echo "ds4j: no JDK 25 or newer found (looked at \$JAVA_HOME, /usr/lib/jvm/*, javac on PATH)." >&2
  echo "ds4j: install one, e.g. Temurin 25, or point JAVA_HOME at it." >&2
  return 1
}
