# Sourced by the bench scripts: `flush_ms DIR` prints the disk's flush latency, 200
# synced 4 KiB writes in DIR, in ms per write.
flush_ms() {
  local secs
  secs=$(dd if=/dev/zero of="$1/flush.test" bs=4k count=200 oflag=dsync 2>&1 | awk '/copied/ {print $(NF-3)}')
  rm -f "$1/flush.test"
  awk -v s="$secs" 'BEGIN { printf "%.2f", s * 1000 / 200 }'
}
