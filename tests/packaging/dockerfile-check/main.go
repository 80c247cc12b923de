// dockerfile-check parses docker/Dockerfile with BuildKit's own Dockerfile
// parser and instruction decoder (the code `docker build` runs), with the
// BuildKit linter's rules that apply at parse time, and checks what a build
// would find missing before it starts: every COPY source exists in the build
// context (the repository root, minus docker/Dockerfile.dockerignore), every
// COPY --from names an earlier stage, every ARG used in FROM is declared.
//
// Usage: go run . ../../../docker/Dockerfile   (from this directory)
package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

var failures int

func check(ok bool, format string, args ...any) {
	if ok {
		fmt.Printf("ok    "+format+"\n", args...)
		return
	}
	failures++
	fmt.Printf("FAIL  "+format+"\n", args...)
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: dockerfile-check path/to/Dockerfile")
		os.Exit(2)
	}
	path, _ := filepath.Abs(os.Args[1])
	context := filepath.Dir(filepath.Dir(path)) // docker/Dockerfile -> repository root
	f, err := os.Open(path)
	if err != nil {
		fmt.Println("FAIL ", err)
		os.Exit(1)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	check(err == nil, "BuildKit parses %s %v", path, errOrEmpty(err))
	if err != nil {
		os.Exit(1)
	}
	for _, w := range res.Warnings {
		check(false, "parser warning line %d: %s", w.Location.Start.Line, w.Short)
	}
	var lintWarnings []string
	lint := linter.New(&linter.Config{Warn: func(rule, desc, url, msg string, loc []parser.Range) {
		line := 0
		if len(loc) > 0 {
			line = loc[0].Start.Line
		}
		lintWarnings = append(lintWarnings, fmt.Sprintf("%s (line %d): %s", rule, line, msg))
	}})
	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	check(err == nil, "every instruction and flag decodes (%d stages) %v", len(stages), errOrEmpty(err))
	if err != nil {
		os.Exit(1)
	}
	for _, w := range lintWarnings {
		check(false, "lint %s", w)
	}
	check(len(lintWarnings) == 0, "no BuildKit lint warnings at parse time")

	declared := map[string]bool{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			declared[kv.Key] = true
		}
	}
	ignore := readIgnore(filepath.Join(filepath.Dir(path), filepath.Base(path)+".dockerignore"))
	seen := map[string]bool{}
	for i, st := range stages {
		for _, word := range strings.FieldsFunc(st.BaseName, func(r rune) bool { return r == '$' || r == '{' || r == '}' || r == ':' || r == '-' }) {
			if strings.ToUpper(word) == word && strings.Contains(st.BaseName, "${"+word+"}") {
				check(declared[word], "stage %d FROM %s: ARG %s declared before FROM", i, st.BaseName, word)
			}
		}
		for _, cmd := range st.Commands {
			c, ok := cmd.(*instructions.CopyCommand)
			if !ok {
				continue
			}
			if c.From != "" {
				check(seen[c.From], "COPY --from=%s names an earlier stage", c.From)
				continue
			}
			for _, src := range c.SourcePaths {
				_, statErr := os.Stat(filepath.Join(context, src))
				check(statErr == nil, "COPY source %s exists in the build context", src)
				check(!ignored(ignore, src), "COPY source %s is not excluded by the .dockerignore", src)
			}
		}
		if st.Name != "" {
			seen[st.Name] = true
		}
	}
	fmt.Printf("dockerfile-check: %d failed\n", failures)
	if failures > 0 {
		os.Exit(1)
	}
}

func errOrEmpty(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}

func readIgnore(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var pats []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			pats = append(pats, strings.TrimPrefix(line, "**/"))
		}
	}
	return pats
}

// ignored: a simplified .dockerignore match (enough for top-level names).
func ignored(pats []string, src string) bool {
	src = filepath.Clean(src)
	for _, p := range pats {
		if src == p || strings.HasPrefix(src, p+"/") {
			return true
		}
		for _, part := range strings.Split(src, "/") {
			if part == p {
				return true
			}
		}
	}
	return false
}
