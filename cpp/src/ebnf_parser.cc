// EBNF/GBNF frontend: recursive descent over the grammar text, producing the Grammar IR.
//
// Newlines are ordinary whitespace; a rule ends where the next `name ::=` begins (XGrammar's
// convention, which also accepts llama.cpp's one-rule-per-line style). Nesting is bounded by
// kMaxNestingDepth so hostile input cannot overflow the C++ stack.
#include <cstdlib>
#include <unordered_map>

#include "formgate/grammar.h"
#include "grammar_analysis.h"
#include "source_text.h"
#include "utf8.h"

namespace formgate {

namespace {

bool IsNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsNameChar(char c) {
  return IsNameStart(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

class EbnfParser {
 public:
  EbnfParser(const std::string& text) : text_(text), src_(text) {}

  Grammar Parse(const std::string& root_name) {
    SkipSpace();
    while (!AtEnd()) {
      ParseRule();
      SkipSpace();
    }
    for (const auto& ref : refs_) {
      auto it = rule_ids_.find(ref.name);
      if (it == rule_ids_.end()) src_.Fail("undefined rule '" + ref.name + "'", ref.pos);
      g_.exprs[ref.expr].rule = it->second;
    }
    auto it = rule_ids_.find(root_name);
    if (it == rule_ids_.end()) {
      throw GrammarError("no rule named '" + root_name + "' (the start rule)", 0, 0, "");
    }
    g_.root = it->second;
    return std::move(g_);
  }

 private:
  struct PendingRef {
    int32_t expr;
    std::string name;
    SourcePos pos;
  };

  bool AtEnd() const { return p_ >= text_.size(); }
  char Peek(size_t k = 0) const { return p_ + k < text_.size() ? text_[p_ + k] : '\0'; }
  SourcePos Here() const { return src_.PosOf(p_); }
  [[noreturn]] void FailHere(const std::string& cause) const { src_.Fail(cause, Here()); }

  void SkipSpace() {
    while (!AtEnd()) {
      char c = Peek();
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++p_;
      } else if (c == '#') {
        while (!AtEnd() && Peek() != '\n') ++p_;
      } else {
        break;
      }
    }
  }

  // True when the text at p_ is `name ::=`, i.e. the next rule starts here.
  bool AtRuleStart() const {
    size_t q = p_;
    if (q >= text_.size() || !IsNameStart(text_[q])) return false;
    while (q < text_.size() && IsNameChar(text_[q])) ++q;
    while (q < text_.size() && (text_[q] == ' ' || text_[q] == '\t' || text_[q] == '\n' ||
                                text_[q] == '\r')) {
      ++q;
    }
    return text_.compare(q, 3, "::=") == 0;
  }

  std::string ParseName() {
    size_t start = p_;
    while (!AtEnd() && IsNameChar(Peek())) ++p_;
    return text_.substr(start, p_ - start);
  }

  void ParseRule() {
    SourcePos pos = Here();
    if (!IsNameStart(Peek())) {
      if (text_.compare(p_, 3, "::=") == 0) FailHere("unexpected '::=' without a rule name");
      FailUnexpected();
    }
    std::string name = ParseName();
    SkipSpace();
    if (text_.compare(p_, 3, "::=") != 0) {
      FailHere("expected '::=' after rule name '" + name + "'");
    }
    p_ += 3;
    if (rule_ids_.count(name)) src_.Fail("duplicate rule '" + name + "'", pos);
    int32_t id = static_cast<int32_t>(g_.rules.size());
    rule_ids_[name] = id;
    g_.rules.push_back(Rule{name, -1, pos});
    SkipSpace();
    if (AtEnd() || AtRuleStart()) src_.Fail("empty rule body for '" + name + "'", pos);
    int32_t body = ParseChoice(0);
    SkipSpace();
    if (!AtEnd() && !AtRuleStart()) {
      if (Peek() == ')') FailHere("unbalanced ')': no matching '('");
      FailUnexpected();
    }
    g_.rules[id].body = body;
  }

  [[noreturn]] void FailUnexpected() const {
    unsigned char c = static_cast<unsigned char>(Peek());
    std::string shown;
    if (c < 0x20 || c == 0x7F) {
      static const char* hex = "0123456789abcdef";
      shown = std::string("\\x") + hex[c >> 4] + hex[c & 15];
    } else {
      size_t q = p_;
      DecodeUtf8(text_, &q);
      shown = text_.substr(p_, q - p_);
    }
    if (c == '*' || c == '+' || c == '?' || c == '{') {
      FailHere("unexpected '" + shown + "': nothing to repeat");
    }
    if (c == ']') FailHere("unbalanced ']': no matching '['");
    FailHere("unexpected character '" + shown + "'");
  }

  int32_t ParseChoice(int depth) {
    if (depth > kMaxNestingDepth) {
      src_.FailLimit("nesting deeper than " + std::to_string(kMaxNestingDepth), Here());
    }
    SourcePos pos = Here();
    std::vector<int32_t> alts{ParseSequence(depth)};
    while (Peek() == '|') {
      ++p_;
      SkipSpace();
      alts.push_back(ParseSequence(depth));
    }
    if (alts.size() == 1) return alts[0];
    Expr e;
    e.kind = ExprKind::kChoice;
    e.children = std::move(alts);
    e.pos = pos;
    return g_.AddExpr(std::move(e));
  }

  // Stops (without consuming) at `|`, `)`, end of text or the start of the next rule.
  int32_t ParseSequence(int depth) {
    SourcePos pos = Here();
    std::vector<int32_t> items;
    for (;;) {
      SkipSpace();
      if (AtEnd() || Peek() == '|' || Peek() == ')' || AtRuleStart()) break;
      items.push_back(ParsePostfix(depth));
    }
    if (items.size() == 1) return items[0];
    Expr e;
    e.kind = items.empty() ? ExprKind::kEmpty : ExprKind::kSequence;
    e.children = std::move(items);
    e.pos = pos;
    return g_.AddExpr(std::move(e));
  }

  int32_t ParsePostfix(int depth) {
    int32_t item = ParseAtom(depth);
    for (int ops = 0;; ++ops) {
      // Stacked operators nest expressions too; bound them like parentheses.
      if (depth + ops > kMaxNestingDepth) {
        src_.FailLimit("nesting deeper than " + std::to_string(kMaxNestingDepth), Here());
      }
      // llama.cpp accepts `x *` and `x {2}`: look past spaces (not newlines) for an operator.
      size_t save = p_;
      SkipInlineSpace();
      char c = Peek();
      if (c != '*' && c != '+' && c != '?' && c != '{') p_ = save;
      SourcePos pos = Here();
      int32_t min, max;
      if (c == '*') {
        ++p_;
        min = 0, max = -1;
      } else if (c == '+') {
        ++p_;
        min = 1, max = -1;
      } else if (c == '?') {
        ++p_;
        min = 0, max = 1;
      } else if (c == '{') {
        ParseBounds(&min, &max);
      } else {
        return item;
      }
      Expr e;
      e.kind = ExprKind::kRepeat;
      e.children = {item};
      e.min = min;
      e.max = max;
      e.pos = pos;
      item = g_.AddExpr(std::move(e));
    }
  }

  int32_t ParseBound(SourcePos brace) {
    SkipInlineSpace();
    if (!(Peek() >= '0' && Peek() <= '9')) {
      src_.Fail("invalid repetition: expected a number in '{...}'", brace);
    }
    int64_t v = 0;
    while (Peek() >= '0' && Peek() <= '9') {
      v = v * 10 + (Peek() - '0');
      if (v > kMaxRepetitionBound) {
        src_.FailLimit("repetition bound exceeds the limit " +
                           std::to_string(kMaxRepetitionBound),
                       brace);
      }
      ++p_;
    }
    SkipInlineSpace();
    return static_cast<int32_t>(v);
  }

  void SkipInlineSpace() {
    while (Peek() == ' ' || Peek() == '\t') ++p_;
  }

  void ParseBounds(int32_t* min, int32_t* max) {
    SourcePos brace = Here();
    ++p_;  // '{'
    *min = ParseBound(brace);
    if (Peek() == '}') {
      *max = *min;
    } else if (Peek() == ',') {
      ++p_;
      SkipInlineSpace();
      *max = Peek() == '}' ? -1 : ParseBound(brace);
    } else {
      src_.Fail("invalid repetition: expected ',' or '}'", brace);
    }
    if (Peek() != '}') src_.Fail("invalid repetition: expected '}'", brace);
    ++p_;
    if (*max != -1 && *min > *max) {
      src_.Fail("invalid repetition range {" + std::to_string(*min) + "," +
                    std::to_string(*max) + "}: min > max",
                brace);
    }
  }

  int32_t ParseAtom(int depth) {
    SourcePos pos = Here();
    char c = Peek();
    Expr e;
    e.pos = pos;
    if (c == '"') {
      e.bytes = ParseString();
      e.kind = e.bytes.empty() ? ExprKind::kEmpty : ExprKind::kBytes;
      return g_.AddExpr(std::move(e));
    }
    if (c == '[') {
      e.kind = ExprKind::kCharClass;
      e.ranges = ParseClass();
      return g_.AddExpr(std::move(e));
    }
    if (c == '.') {
      ++p_;
      e.kind = ExprKind::kCharClass;
      e.ranges = NormalizeRanges({{0, kMaxCodepoint}});
      return g_.AddExpr(std::move(e));
    }
    if (c == '(') {
      ++p_;
      SkipSpace();
      int32_t inner = ParseChoice(depth + 1);
      SkipSpace();
      if (Peek() != ')') {
        if (AtEnd() || AtRuleStart()) src_.Fail("unbalanced '(': missing ')'", pos);
        FailUnexpected();
      }
      ++p_;
      return inner;
    }
    if (c == '<') return ParseSpecialToken(std::move(e));
    if (IsNameStart(c)) {
      std::string name = ParseName();
      e.kind = ExprKind::kRuleRef;
      int32_t id = g_.AddExpr(std::move(e));
      refs_.push_back({id, name, pos});
      return id;
    }
    if (text_.compare(p_, 3, "::=") == 0) FailHere("unexpected '::=' without a rule name");
    FailUnexpected();
  }

  // `<[ID]>`, `<[NAME]>` (NAME runs to the first `]>`) or `<|NAME|>` (the name is the whole
  // `<|...|>`, up to the first `|>`). Names stay on one line and must be UTF-8.
  int32_t ParseSpecialToken(Expr e) {
    static const char* kForms = "a special token is written <[ID]>, <[NAME]> or <|NAME|>";
    e.kind = ExprKind::kToken;
    bool by_name_bar = Peek(1) == '|';
    if (Peek(1) != '[' && !by_name_bar) FailHere(std::string("unexpected character '<': ") + kForms);
    const char* close = by_name_bar ? "|>" : "]>";
    size_t begin = p_ + 2;
    size_t end = text_.find(close, begin);
    size_t eol = text_.find('\n', begin);
    if (end == std::string::npos || (eol != std::string::npos && eol < end)) {
      FailHere(std::string("unterminated special token: missing '") + close + "' on this line");
    }
    std::string inner = text_.substr(begin, end - begin);
    if (by_name_bar) {
      e.bytes = "<|" + inner + "|>";
    } else if (inner.empty()) {
      FailHere(std::string("empty special token '<[]>': ") + kForms);
    } else if (inner.find_first_not_of("0123456789") == std::string::npos) {
      int64_t id = 0;
      for (char d : inner) {
        id = id * 10 + (d - '0');
        if (id > kMaxTokenId) {
          FailHere("special token id " + inner + " exceeds the limit " +
                   std::to_string(kMaxTokenId));
        }
      }
      e.token_id = static_cast<int32_t>(id);
    } else {
      e.bytes = inner;
    }
    for (size_t q = begin; q < end;) {
      if (DecodeUtf8(text_, &q) < 0) FailHere("invalid UTF-8 in special token name");
    }
    p_ = end + 2;
    return g_.AddExpr(std::move(e));
  }

  // Parses one escape after the backslash; returns the code point.
  uint32_t ParseEscape(bool in_class) {
    SourcePos pos = src_.PosOf(p_ - 1);
    char c = Peek();
    ++p_;
    switch (c) {
      case 'n': return '\n';
      case 'r': return '\r';
      case 't': return '\t';
      case '\\': return '\\';
      case '"': return '"';
      case '\'': return '\'';
      case '/': return '/';
      case 'x': return ParseHexEscape(2, pos);
      case 'u': return ParseHexEscape(4, pos);
      case 'U': return ParseHexEscape(8, pos);
      default: break;
    }
    if (in_class && (c == ']' || c == '[' || c == '-' || c == '^')) return c;
    if (c == '\0' && AtEnd()) src_.Fail("unterminated string", pos);
    size_t q = p_ - 1;
    DecodeUtf8(text_, &q);
    src_.Fail("invalid escape '\\" + text_.substr(p_ - 1, q - (p_ - 1)) + "'", pos);
  }

  uint32_t ParseHexEscape(int digits, SourcePos pos) {
    uint32_t v = 0;
    for (int i = 0; i < digits; ++i) {
      char c = Peek();
      int d = (c >= '0' && c <= '9')   ? c - '0'
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                       : -1;
      if (d < 0) {
        src_.Fail("invalid escape: expected " + std::to_string(digits) + " hex digits", pos);
      }
      v = v * 16 + d;
      ++p_;
    }
    if (v > kMaxCodepoint) src_.Fail("invalid escape: code point beyond U+10FFFF", pos);
    if (v >= 0xD800 && v <= 0xDFFF) src_.Fail("invalid escape: surrogate code point", pos);
    return v;
  }

  uint32_t ParseCodepoint(bool in_class) {
    if (Peek() == '\\') {
      ++p_;
      return ParseEscape(in_class);
    }
    size_t q = p_;
    int32_t cp = DecodeUtf8(text_, &q);
    if (cp < 0) FailHere("invalid UTF-8 in grammar text");
    p_ = q;
    return static_cast<uint32_t>(cp);
  }

  std::string ParseString() {
    SourcePos pos = Here();
    ++p_;  // '"'
    std::string out;
    for (;;) {
      if (AtEnd() || Peek() == '\n') src_.Fail("unterminated string", pos);
      if (Peek() == '"') break;
      AppendUtf8(ParseCodepoint(false), &out);
    }
    ++p_;
    return out;
  }

  std::vector<CodepointRange> ParseClass() {
    SourcePos pos = Here();
    ++p_;  // '['
    bool negated = false;
    if (Peek() == '^') {
      negated = true;
      ++p_;
    }
    std::vector<CodepointRange> ranges;
    for (;;) {
      if (AtEnd() || Peek() == '\n') {
        src_.Fail("unbalanced '[': character class is not closed", pos);
      }
      if (Peek() == ']') break;
      SourcePos item_pos = Here();
      uint32_t lo = ParseCodepoint(true);
      uint32_t hi = lo;
      if (Peek() == '-' && Peek(1) != ']') {
        ++p_;
        if (AtEnd()) src_.Fail("unbalanced '[': character class is not closed", pos);
        hi = ParseCodepoint(true);
        if (hi < lo) src_.Fail("invalid range in character class: end before start", item_pos);
      }
      ranges.push_back({lo, hi});
    }
    ++p_;
    if (ranges.empty()) src_.Fail("empty character class", pos);
    ranges = negated ? ComplementRanges(ranges) : NormalizeRanges(ranges);
    if (ranges.empty()) src_.Fail("character class matches no character", pos);
    return ranges;
  }

  const std::string& text_;
  SourceText src_;
  size_t p_ = 0;
  Grammar g_;
  std::unordered_map<std::string, int32_t> rule_ids_;
  std::vector<PendingRef> refs_;
};

}  // namespace

int32_t Grammar::FindRule(const std::string& name) const {
  for (size_t i = 0; i < rules.size(); ++i) {
    if (rules[i].name == name) return static_cast<int32_t>(i);
  }
  return -1;
}

Grammar Grammar::FromEbnf(const std::string& text, const std::string& root) {
  Grammar g = EbnfParser(text).Parse(root);
  return Simplify(g, SourceText(text));
}

}  // namespace formgate
