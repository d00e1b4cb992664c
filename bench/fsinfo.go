package main

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// mountInfo is the filesystem a directory lives on.
type mountInfo struct {
	MountPoint, FSType, Source, Options string
}

// describeDir says which filesystem dir is on, from /proc/self/mountinfo (Linux); elsewhere
// it returns just the directory.
func describeDir(dir string) string {
	abs, err := filepath.Abs(dir)
	if err == nil {
		if r, err := filepath.EvalSymlinks(abs); err == nil {
			abs = r
		}
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return abs
	}
	defer f.Close()
	m, ok := findMount(f, abs)
	if !ok {
		return abs
	}
	return abs + " on " + m.MountPoint + " (" + m.FSType + " " + m.Source + ", " + m.Options + ")"
}

// findMount returns the mount with the longest mount point containing path, parsing the
// /proc/<pid>/mountinfo format:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
func findMount(r io.Reader, path string) (mountInfo, bool) {
	var best mountInfo
	found := false
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 6 || len(fields) < sep+3 {
			continue
		}
		mp := unescapeMount(fields[4])
		if !within(path, mp) || (found && len(mp) < len(best.MountPoint)) {
			continue
		}
		best = mountInfo{MountPoint: mp, FSType: fields[sep+1], Source: fields[sep+2], Options: fields[5]}
		found = true
	}
	return best, found
}

func within(path, mp string) bool {
	if mp == "/" {
		return strings.HasPrefix(path, "/")
	}
	return path == mp || strings.HasPrefix(path, mp+"/")
}

// unescapeMount undoes the octal escapes (\040 for a space, ...) of mountinfo paths.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, ok := octal3(s[i+1 : i+4]); ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func octal3(s string) (byte, bool) {
	if len(s) != 3 {
		return 0, false
	}
	var v int
	for _, c := range s {
		if c < '0' || c > '7' {
			return 0, false
		}
		v = v*8 + int(c-'0')
	}
	return byte(v), v < 256
}
