// SPDX-License-Identifier: Apache-2.0
#include "common/usage.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "mnet/error.h"

namespace mnet::cli {

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::string in_quotes(const std::string& s) { return "'" + s + "'"; }

size_t leading_spaces(const std::string& line) {
    const size_t n = line.find_first_not_of(' ');
    return n == std::string::npos ? 0 : n;
}

// A placeholder for what an option takes, from CLI11's type name when the option does not set one.
std::string placeholder(const CLI::Option* opt) {
    if (!opt->get_option_text().empty()) return opt->get_option_text();
    const std::string type = opt->get_type_name().substr(0, opt->get_type_name().find(':'));
    std::string name = "VALUE";
    if (type.find("INT") != std::string::npos) name = "N";
    if (type == "FLOAT") name = "X";
    return opt->get_expected_max() > 1 ? name + "..." : name;
}

class HelpFormatter : public CLI::Formatter {
public:
    HelpFormatter() { column_width(30); }

    std::string make_help(const CLI::App* app, std::string name, CLI::AppFormatMode mode) const override {
        return wrap_text(CLI::Formatter::make_help(app, std::move(name), mode), help_width());
    }

    std::string make_option_opts(const CLI::Option* opt) const override {
        if (opt->get_positional()) return opt->get_expected_max() > 1 ? " ..." : "";
        if (opt->get_type_size_max() == 0 || opt->get_expected_max() == 0) return "";  // a flag
        return " " + placeholder(opt);
    }

    // A negatable flag's name carries CLI11's default marker ("--fuse-dw,--no-fuse-dw{false}"); the description
    // states the default in words, so the marker goes.
    std::string make_option_name(const CLI::Option* opt, bool is_positional) const override {
        std::string name = CLI::Formatter::make_option_name(opt, is_positional);
        for (size_t open = name.find('{'); open != std::string::npos; open = name.find('{', open)) {
            const size_t close = name.find('}', open);
            if (close == std::string::npos) break;
            name.erase(open, close - open + 1);
        }
        return name;
    }

    std::string make_option(const CLI::Option* opt, bool is_positional) const override {
        std::string left = "  " + make_option_name(opt, is_positional) + make_option_opts(opt);
        const size_t column = get_column_width();
        left = left.size() + 1 >= column ? left + "\n" + std::string(column, ' ')
                                         : left + std::string(column - left.size(), ' ');
        std::string desc = make_option_desc(opt);
        std::string indented;
        for (char c : desc) {
            indented += c;
            if (c == '\n') indented += std::string(column, ' ');
        }
        return wrap_text(left + indented, help_width(), column) + "\n";
    }

    // The list of subcommands: each description's first line up to its first ": " (the rest is that
    // subcommand's own help).
    std::string make_subcommand(const CLI::App* sub) const override {
        std::string desc = sub->get_description();
        desc = desc.substr(0, std::min(desc.find('\n'), desc.find(": ")));
        std::string left = "  " + sub->get_name();
        const size_t column = get_column_width();
        left += std::string(left.size() < column ? column - left.size() : 1, ' ');
        return wrap_text(left + desc, help_width(), column) + "\n";
    }
};

}  // namespace

std::string closest(const std::string& word, const std::vector<std::string>& candidates) {
    // Short words get 2 edits too ("cvs" -> "csv" is a swap, two edits); one-letter flags only 1.
    const size_t limit = word.size() <= 2 ? 1 : std::clamp<size_t>(word.size() / 3, 2, 3);
    std::string best;
    size_t best_distance = limit + 1;
    for (const std::string& c : candidates) {
        const size_t d = edit_distance(word, c);
        if (d < best_distance) {
            best = c;
            best_distance = d;
        }
    }
    return best;
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
    const std::string best = closest(word, candidates);
    return best.empty() ? "" : "; did you mean " + in_quotes(best) + "?";
}

size_t help_width() {
    struct winsize ws {};
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40) {
        return std::min<size_t>(kMaxHelpWidth, ws.ws_col);
    }
    return kMaxHelpWidth;
}

std::string wrap_text(const std::string& text, size_t width, size_t min_indent) {
    std::string out;
    std::istringstream lines(text);
    std::string line;
    bool first = true;
    while (std::getline(lines, line)) {
        if (!first) out += '\n';
        first = false;
        const std::string indent(std::max(leading_spaces(line), min_indent), ' ');
        while (line.size() > width) {
            size_t cut = line.rfind(' ', width);
            if (cut == std::string::npos || cut <= indent.size()) cut = line.find(' ', width);  // one long word
            if (cut == std::string::npos) break;
            out += line.substr(0, cut) + '\n';
            const size_t rest = line.find_first_not_of(' ', cut);
            line = rest == std::string::npos ? std::string() : indent + line.substr(rest);
        }
        out += line;
    }
    if (!text.empty() && text.back() == '\n') out += '\n';
    return out;
}

std::shared_ptr<CLI::Formatter> make_help_formatter() { return std::make_shared<HelpFormatter>(); }

CLI::Validator whole_number(long long lo, long long hi) {
    const std::string range = "a whole number from " + std::to_string(lo) + " to " + std::to_string(hi);
    return CLI::Validator(
        [lo, hi, range](std::string& text) -> std::string {
            char* end = nullptr;
            errno = 0;
            const long long v = std::strtoll(text.c_str(), &end, 10);
            if (text.empty() || *end != '\0' || errno != 0 || v < lo || v > hi)
                return "expects " + range + ", got " + in_quotes(text);
            return "";
        },
        "");
}

CLI::Validator decimal_number(double lo, double hi) {
    return CLI::Validator(
        [lo, hi](std::string& text) -> std::string {
            char* end = nullptr;
            const double v = std::strtod(text.c_str(), &end);
            if (text.empty() || *end != '\0' || !(v >= lo && v <= hi)) {
                return "expects a number from " + CLI::detail::to_string(lo) + " to " + CLI::detail::to_string(hi) +
                       ", got " + in_quotes(text);
            }
            return "";
        },
        "");
}

CLI::Validator one_of(std::vector<std::string> values) {
    return CLI::Validator(
        [values](std::string& text) -> std::string {
            if (std::find(values.begin(), values.end(), text) != values.end()) return "";
            std::string list;
            for (const std::string& v : values) list += (list.empty() ? "" : ", ") + v;
            return "expects one of " + list + ", got " + in_quotes(text) + did_you_mean(text, values);
        },
        "");
}

std::vector<std::string> normalize_args(const CLI::App& app, int argc, char** argv) {
    std::vector<std::string> args(argv, argv + argc);
    std::vector<std::string> names;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
        names.push_back(sub->get_name());
    const auto word =
        std::find_if(args.begin() + 1, args.end(), [](const std::string& a) { return a.empty() || a[0] != '-'; });
    if (word == args.end()) return args;
    std::string name = *word;
    if (name == "help") {  // `help` alone, or `help SUB`
        if (word + 1 == args.end()) return {args[0], "--help"};
        name = *(word + 1);
        args = {args[0], name, "--help"};
    }
    if (std::find(names.begin(), names.end(), name) == names.end()) {
        throw Error(ErrorCode::InvalidArgument, "unknown subcommand " + in_quotes(name) + did_you_mean(name, names) +
                                                    " (see '" + app.get_name() + " --help')");
    }
    return args;
}

std::string describe_parse_error(const CLI::App& app, const CLI::ParseError& e) {
    const std::vector<CLI::App*> selected = app.get_subcommands();
    const CLI::App& sub = selected.empty() ? app : *selected.front();
    const std::string where = selected.empty() ? app.get_name() : app.get_name() + " " + sub.get_name();
    const std::string see = " (see '" + where + " --help')";
    // An unknown flag is named first, whatever CLI11 complained about (it checks required options before extras,
    // so `--lables x` would otherwise read as "--output is required").
    const std::vector<std::string> extras = app.remaining(true);
    const auto flag_like =
        std::find_if(extras.begin(), extras.end(), [](const std::string& a) { return a.size() > 1 && a[0] == '-'; });
    if (dynamic_cast<const CLI::ExtrasError*>(&e) || flag_like != extras.end()) {
        const std::string extra = flag_like != extras.end() ? *flag_like
                                  : extras.empty()          ? std::string()
                                                            : extras.front();
        if (!extra.empty() && extra[0] == '-' && extra != "-") {
            const std::string flag = extra.substr(0, extra.find('='));
            std::vector<std::string> known;
            for (const CLI::Option* opt : sub.get_options()) {
                for (const std::string& n : opt->get_lnames()) known.push_back("--" + n);
                for (const std::string& n : opt->get_snames()) known.push_back("-" + n);
            }
            return "unknown flag " + in_quotes(flag) + " for '" + where + "'" + did_you_mean(flag, known) + see;
        }
        if (!extra.empty()) return "unexpected argument " + in_quotes(extra) + " for '" + where + "'" + see;
    }
    std::string message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    if (dynamic_cast<const CLI::RequiredError*>(&e) && !selected.empty()) message = sub.get_name() + ": " + message;
    return message + see;
}

int parse_args(CLI::App& app, const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    try {
        app.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);  // --help, --version
        std::fprintf(stderr, "%s: error: %s\n", app.get_name().c_str(), describe_parse_error(app, e).c_str());
        return 2;
    }
    return -1;
}

}  // namespace mnet::cli
