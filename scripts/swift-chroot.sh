# The Swift chroot (Debian trixie's swiftlang at $SWIFT_ROOT, made by
# scripts/setup.sh swift), shared by scripts/test-swift.sh and
# scripts/package-ios.sh. Sourced after common.sh, never run.
#
# The repo is bind-mounted into the chroot at its own absolute path, so every
# path means the same inside and out; the chroot shares the host's network.
# A caller mounts with swift_chroot_mount (as a step), runs commands with
# swift_chroot_run and calls swift_chroot_unmount from its EXIT trap.
# Needs root (mount, chroot).

repo_in_root="$SWIFT_ROOT$REPO_ROOT"
mounted_repo=""
mounted_proc=""

swift_chroot_mount() {
  mkdir -p "$repo_in_root"
  # A run killed with SIGKILL leaves its bind mount; replace it.
  if mountpoint -q "$repo_in_root"; then umount -l "$repo_in_root"; fi
  mount --bind "$REPO_ROOT" "$repo_in_root" || return 1
  mounted_repo=1
  # swiftc cannot load libswiftCore without /proc.
  if ! mountpoint -q "$SWIFT_ROOT/proc"; then
    mount -t proc proc "$SWIFT_ROOT/proc" || return 1
    mounted_proc=1
  fi
}

# Undoes what swift_chroot_mount mounted (and only that).
swift_chroot_unmount() {
  # -l (lazy): a process still holding a file inside must not leave the
  # mount behind.
  if [ -n "$mounted_repo" ]; then umount -l "$repo_in_root" || log "could not unmount $repo_in_root"; fi
  if [ -n "$mounted_proc" ]; then umount -l "$SWIFT_ROOT/proc" || log "could not unmount $SWIFT_ROOT/proc"; fi
  mounted_repo=""
  mounted_proc=""
}

# swift_chroot_run [NAME=VALUE...] COMMAND: runs the bash command line
# COMMAND inside the chroot with only the given variables set.
swift_chroot_run() {
  local vars=()
  while [ $# -gt 1 ]; do
    vars+=("$1")
    shift
  done
  # env -i: nothing from the host's environment (its PATH, cargo settings)
  # leaks into the chroot; only what the command needs is passed.
  chroot "$SWIFT_ROOT" /usr/bin/env -i \
    HOME=/root \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 \
    "${vars[@]}" \
    bash -c "$1"
}
