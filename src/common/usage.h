// SPDX-License-Identifier: Apache-2.0
// How the command lines of `mnet` and `mnet-convert` talk to people: help text without CLI11's type syntax,
// wrapped to the terminal; flag validators whose messages are one line; parse errors as one line with a
// "did you mean" suggestion.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

namespace mnet::cli {

constexpr size_t kMaxHelpWidth = 100;

// The candidate closest to `word` (edit distance: at most a third of the word's length, between 2 and 3 edits,
// 1 for words of up to two characters), or "" when none is that close. Ties keep the first candidate.
std::string closest(const std::string& word, const std::vector<std::string>& candidates);

// "; did you mean 'x'?" for closest(word, candidates), or "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

// The width help is wrapped to: kMaxHelpWidth, or the terminal's when standard output is a narrower one.
size_t help_width();

// Wraps `text` (lines separated by '\n') to `width` columns: a long line breaks at spaces, its continuation
// lines indented like the line itself, at least `min_indent` columns.
std::string wrap_text(const std::string& text, size_t width, size_t min_indent = 0);

// Help as a person reads it: an option shows a placeholder (N, FILE, its option_text) instead of CLI11's
// "INT:INT in [1 - 9223372036854775807]", no "{false}" defaults, the subcommand list takes the first line of
// each description, and everything is wrapped to help_width().
std::shared_ptr<CLI::Formatter> make_help_formatter();

// A whole number in [lo, hi]; its message is one line, e.g. "expects a whole number from 1 to 100000, got 'five'".
CLI::Validator whole_number(long long lo, long long hi);
// A decimal number in [lo, hi].
CLI::Validator decimal_number(double lo, double hi);
// One of `values`, with a suggestion when the value is close to one of them.
CLI::Validator one_of(std::vector<std::string> values);

// argv as the parser should see it: `help` -> `--help`, `help SUB` -> `SUB --help`. Throws
// Error(InvalidArgument) for a first word that is not a subcommand of `app`, with a suggestion.
std::vector<std::string> normalize_args(const CLI::App& app, int argc, char** argv);

// One line (no program prefix, no newline) for a parse error `e` of `app`: the unknown flag and the closest
// known one, the missing argument, the refused value; it ends with where to find the help.
std::string describe_parse_error(const CLI::App& app, const CLI::ParseError& e);

// Parses `args` (from normalize_args) with `app`. --help and --version print and return 0; a parse error prints
// "<program>: error: <describe_parse_error>" on stderr and returns 2. Returns -1 when the command should run
// (its callbacks have then run).
int parse_args(CLI::App& app, const std::vector<std::string>& args);

}  // namespace mnet::cli
