// Grammar::ToString: prints the IR back as EBNF that FromEbnf accepts (used for debugging,
// serialisation by text, and by frontends that users want to inspect).
#include <cstdio>

#include "formgate/grammar.h"
#include "utf8.h"

namespace formgate {

namespace {

void AppendEscaped(uint32_t cp, bool in_class, std::string* out) {
  char buf[16];
  if (cp == '\n') {
    *out += "\\n";
  } else if (cp == '\r') {
    *out += "\\r";
  } else if (cp == '\t') {
    *out += "\\t";
  } else if (cp == '\\' || cp == '"' || (in_class && (cp == ']' || cp == '[' || cp == '-' ||
                                                     cp == '^'))) {
    *out += '\\';
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x20 || cp == 0x7F) {
    std::snprintf(buf, sizeof(buf), "\\x%02X", cp);
    *out += buf;
  } else {
    AppendUtf8(cp, out);
  }
}

class Printer {
 public:
  explicit Printer(const Grammar& g) : g_(g) {}

  // prec: 0 = inside a choice, 1 = inside a sequence, 2 = operand of a postfix operator.
  void Print(int32_t e, int prec, std::string* out) const {
    const Expr& x = g_.exprs[e];
    switch (x.kind) {
      case ExprKind::kEmpty:
        *out += "\"\"";
        return;
      case ExprKind::kBytes: {
        *out += '"';
        size_t i = 0;
        while (i < x.bytes.size()) {
          size_t start = i;
          int32_t cp = DecodeUtf8(x.bytes, &i);
          if (cp < 0) {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\x%02X",
                          static_cast<unsigned char>(x.bytes[start]));
            *out += buf;
          } else {
            AppendEscaped(static_cast<uint32_t>(cp), false, out);
          }
        }
        *out += '"';
        return;
      }
      case ExprKind::kCharClass:
        *out += '[';
        for (auto [lo, hi] : x.ranges) {
          AppendEscaped(lo, true, out);
          if (hi != lo) {
            *out += '-';
            AppendEscaped(hi, true, out);
          }
        }
        *out += ']';
        return;
      case ExprKind::kRuleRef:
        *out += g_.rules[x.rule].name;
        return;
      case ExprKind::kToken:
        *out += SpecialTokenTerminal(x);
        return;
      case ExprKind::kSequence:
      case ExprKind::kChoice: {
        int own = x.kind == ExprKind::kChoice ? 0 : 1;
        bool paren = prec > own;
        if (paren) *out += '(';
        for (size_t i = 0; i < x.children.size(); ++i) {
          if (i) *out += own == 0 ? " | " : " ";
          Print(x.children[i], own + 1, out);
        }
        if (paren) *out += ')';
        return;
      }
      case ExprKind::kRepeat:
        Print(x.children[0], 2, out);
        if (x.min == 0 && x.max == -1) {
          *out += '*';
        } else if (x.min == 1 && x.max == -1) {
          *out += '+';
        } else if (x.min == 0 && x.max == 1) {
          *out += '?';
        } else if (x.max == -1) {
          *out += "{" + std::to_string(x.min) + ",}";
        } else if (x.min == x.max) {
          *out += "{" + std::to_string(x.min) + "}";
        } else {
          *out += "{" + std::to_string(x.min) + "," + std::to_string(x.max) + "}";
        }
        return;
    }
  }

 private:
  const Grammar& g_;
};

}  // namespace

std::string SpecialTokenTerminal(const Expr& x) {
  if (x.token_id >= 0) return "<[" + std::to_string(x.token_id) + "]>";
  const std::string& n = x.bytes;
  // `<|NAME|>` whose first `|>` is its end reads back as itself; any other name is bracketed
  // (the parser only builds names that one of the two forms reproduces).
  bool bar_form = n.size() >= 4 && n.compare(0, 2, "<|") == 0 && n.find("|>", 2) == n.size() - 2;
  return bar_form ? n : "<[" + n + "]>";
}

std::string Grammar::ToString() const {
  Printer printer(*this);
  std::string out;
  for (const Rule& r : rules) {
    out += r.name + " ::= ";
    printer.Print(r.body, 0, &out);
    out += '\n';
  }
  return out;
}

}  // namespace formgate
