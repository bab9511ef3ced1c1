package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/hutchrt/hutch/rootfs"
	"github.com/hutchrt/hutch/runtime"
)

// Shell completion: `hutch completion bash|zsh` prints a script whose only
// logic is to call `hutch __complete WORDS...` (the words typed after hutch,
// the last one being completed) and offer what it prints, one a line. The
// command tree, flags and names are known here, so both shells complete
// alike and a new command or flag needs no script change.

const completeCommand = "__complete"

func completionCommand() *cli.Command {
	return &cli.Command{
		Name: "completion", Usage: "print a shell completion script: bash or zsh", ArgsUsage: "bash|zsh",
		Description: "bash: source <(hutch completion bash), or save it in /etc/bash_completion.d/hutch\n" +
			"zsh:  source <(hutch completion zsh), or save it as _hutch in a directory of $fpath",
		Action: func(ctx *cli.Context) error {
			if ctx.NArg() != 1 {
				return fmt.Errorf("completion: needs one shell, bash or zsh (see 'hutch completion --help')")
			}
			switch ctx.Args().First() {
			case "bash":
				fmt.Print(bashCompletion)
			case "zsh":
				fmt.Print(zshCompletion)
			default:
				return fmt.Errorf("completion: %q is not a shell this knows: bash or zsh", shortArg(ctx.Args().First()))
			}
			return nil
		},
	}
}

// completeCmd is the hidden command the scripts call; it never fails
// (a completion that cannot list names offers none).
func completeCmd() *cli.Command {
	return &cli.Command{
		Name: completeCommand, Hidden: true, SkipFlagParsing: true,
		Action: func(ctx *cli.Context) error {
			words := ctx.Args().Slice()
			root := ctx.String("root")
			if r, ok := rootIn(words); ok {
				root = r
			}
			for _, c := range complete(ctx.App, words, func(kind string) []string { return completionNames(root, kind) }) {
				fmt.Println(c)
			}
			return nil
		},
	}
}

// rootIn finds a --root given among the words typed before the command.
func rootIn(words []string) (string, bool) {
	for i, w := range words {
		if v, ok := strings.CutPrefix(w, "--root="); ok {
			return v, true
		}
		if w == "--root" && i+1 < len(words)-1 {
			return words[i+1], true
		}
		if !strings.HasPrefix(w, "-") {
			break
		}
	}
	return "", false
}

// argKinds says what a command's positional arguments name: one kind for
// all of them, or for the first only (ends in "1").
var argKinds = map[string]string{
	"stop": "containers", "kill": "containers", "start": "containers", "rm": "containers",
	"logs": "containers1", "exec": "containers1", "inspect": "containers", "port": "containers1",
	"wait": "containers", "restart": "containers", "pause": "containers", "unpause": "containers",
	"attach": "containers1", "top": "containers1", "stats": "containers", "rename": "containers1",
	"update": "containers", "diff": "containers1", "export": "containers1", "commit": "containers1",
	"run": "images1", "create": "images1", "rmi": "images", "image rm": "images", "image inspect": "images",
	"save": "images", "image save": "images", "tag": "images1", "image tag": "images1", "history": "images1",
	"network rm": "networks", "network inspect": "networks", "network connect": "networks1",
	"network disconnect": "networks1", "network graph": "networks", "volume rm": "volumes", "volume inspect": "volumes",
	"completion": "shells",
}

// flagKinds are flags whose value names something hutch knows.
var flagKinds = map[string]string{"--network": "networks", "--net": "networks", "--volumes-from": "containers"}

// complete is what to offer for the last of words (the words after
// "hutch"); names lists containers, images or networks by kind.
func complete(app *cli.App, words []string, names func(kind string) []string) []string {
	if len(words) == 0 {
		words = []string{""}
	}
	cur := words[len(words)-1]
	cmds, flags := app.Commands, app.Flags
	var path []string
	positional := 0
	for i := 0; i < len(words)-1; i++ {
		w := words[i]
		if strings.HasPrefix(w, "-") && w != "-" {
			if f := flagNamed(flags, w); f != nil && takesValue(f) && !strings.Contains(w, "=") {
				if i == len(words)-2 { // the word being completed is this flag's value
					if kind, ok := flagKinds[w]; ok {
						return withPrefix(names(kind), cur)
					}
					return nil
				}
				i++
			}
			continue
		}
		if positional == 0 {
			if c := commandNamed(cmds, w); c != nil {
				path = append(path, c.Name)
				cmds, flags = c.Subcommands, c.Flags
				continue
			}
		}
		positional++
	}
	if strings.HasPrefix(cur, "-") {
		out := []string{"--help", "-h"} // added by the library as it runs
		for _, f := range flags {
			if hidden(f) {
				continue
			}
			for _, n := range f.Names() {
				out = append(out, dashed(n))
			}
		}
		return withPrefix(out, cur)
	}
	if positional == 0 && len(cmds) > 0 {
		var out []string
		for _, c := range cmds {
			if !c.Hidden {
				out = append(out, c.Name)
			}
		}
		return withPrefix(out, cur)
	}
	kind := argKinds[strings.Join(path, " ")]
	if k, first := strings.CutSuffix(kind, "1"); first {
		if positional > 0 {
			return nil
		}
		kind = k
	}
	if kind == "shells" {
		return withPrefix([]string{"bash", "zsh"}, cur)
	}
	if kind == "" {
		return nil
	}
	return withPrefix(names(kind), cur)
}

func commandNamed(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

func flagNamed(flags []cli.Flag, word string) cli.Flag {
	name, _, _ := strings.Cut(strings.TrimLeft(word, "-"), "=")
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

func takesValue(f cli.Flag) bool {
	v, ok := f.(cli.DocGenerationFlag)
	return ok && v.TakesValue()
}

func hidden(f cli.Flag) bool {
	v, ok := f.(cli.VisibleFlag)
	return ok && !v.IsVisible()
}

func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

func withPrefix(cands []string, prefix string) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range cands {
		if strings.HasPrefix(c, prefix) && !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

// completionNames lists the names of one kind in root; listing makes nothing.
func completionNames(root, kind string) []string {
	s, err := runtime.OpenStore(root)
	if err != nil {
		return nil
	}
	var out []string
	switch kind {
	case "containers":
		cs, _ := s.List()
		for _, c := range cs {
			out = append(out, c.Name)
		}
	case "images":
		imgs, _ := s.Images().List()
		for _, img := range imgs {
			if len(img.Layers) > 0 {
				repo, tag := rootfs.Familiar(img.Name)
				out = append(out, repo+":"+tag)
			} else {
				out = append(out, img.Name)
			}
		}
	case "networks":
		nets, _ := runtime.NewNetworks(root, s).List()
		for _, n := range nets {
			out = append(out, n.Name)
		}
		out = append(out, "host", "none")
	case "volumes":
		vols, _ := s.Volumes().List()
		for _, v := range vols {
			out = append(out, v.Name)
		}
	}
	return out
}

const bashCompletion = `# bash completion for hutch: source <(hutch completion bash)
_hutch() {
	local IFS=$'\n'
	COMPREPLY=($("${COMP_WORDS[0]}" ` + completeCommand + ` "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o default -F _hutch hutch
`

const zshCompletion = `#compdef hutch
# zsh completion for hutch: source <(hutch completion zsh), or save as _hutch in $fpath
_hutch() {
	local -a cands
	cands=("${(@f)$(${words[1]} ` + completeCommand + ` "${(@)words[2,CURRENT]}" 2>/dev/null)}")
	cands=(${cands:#})
	if (( ${#cands} )); then
		compadd -Q -a cands
	else
		_files
	fi
}
if [[ "${funcstack[1]}" == "_hutch" ]]; then
	_hutch "$@"
else
	compdef _hutch hutch
fi
`
