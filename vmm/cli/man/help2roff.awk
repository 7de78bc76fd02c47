# help2roff.awk: turns the text of `mvmm help [COMMAND]` into a man page (roff), so that
# `man mvmm-run` says what `mvmm run --help` says. The layout it reads is described at the
# top of vmm/cli/cli_help.c. Variables (awk -v): page (mvmm-run), summary, version.
#
#   usage: ...           SYNOPSIS, with the "       mvmm ..." lines after it
#   text:                a section of its own (a line ending in ':' at column 0)
#   "  TERM  text"       an item (.TP), TERM in bold; deeper-indented lines continue it
#   anything else        running text; a blank line ends a paragraph

function esc(s) {
	gsub(/\\/, "\\e", s)
	gsub(/-/, "\\-", s)
	return s
}
# A text line: escaped, never read as a request.
function line(s) {
	s = esc(s)
	if (s ~ /^[.']/)
		s = "\\&" s
	print s
}
function section(name) {
	print ".SH " toupper(name)
	state = "para"
}
BEGIN {
	upper = toupper(page)
	printf ".\\\" %s.1: generated from `mvmm help` by vmm/cli/man/help2roff.awk; do not edit.\n", page
	printf ".TH %s 1 \"\" \"mvmm %s\" \"User Commands\"\n", upper, version
	print ".SH NAME"
	print esc(page) " \\- " esc(summary)
	state = "start"
}
state == "start" && /^usage: / {
	print ".SH SYNOPSIS"
	print ".nf"
	sub(/^usage: /, "")
	line($0)
	state = "synopsis"
	next
}
state == "synopsis" && /^       [^ ]/ {
	sub(/^ +/, "")
	line($0)
	next
}
state == "synopsis" {
	print ".fi"
	print ".SH DESCRIPTION"
	state = "para"
}
/^$/ {
	if (state != "para")
		state = "para"
	pending_pp = 1
	next
}
/^[A-Za-z][^:]*:$/ {
	sub(/:$/, "")
	section($0)
	pending_pp = 0
	next
}
/^  [^ ]/ {
	s = substr($0, 3)
	print ".TP"
	if (match(s, /  +/)) {
		print ".B " esc(substr(s, 1, RSTART - 1))
		line(substr(s, RSTART + RLENGTH))
	} else {
		print ".B " esc(s)
	}
	state = "item"
	pending_pp = 0
	next
}
/^   / && state == "item" {
	sub(/^ +/, "")
	line($0)
	next
}
{
	if (state == "item" || pending_pp)
		print ".PP"
	state = "text"
	pending_pp = 0
	sub(/^ +/, "")
	line($0)
}
END {
	if (state == "synopsis")
		print ".fi"
}
