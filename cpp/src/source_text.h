// Maps byte offsets in grammar text to line/column (code points) and renders caret excerpts, so
// every frontend reports positions the same way.
#ifndef FORMGATE_SOURCE_TEXT_H_
#define FORMGATE_SOURCE_TEXT_H_

#include <string>

#include "formgate/error.h"
#include "formgate/grammar.h"

namespace formgate {

class SourceText {
 public:
  explicit SourceText(const std::string& text) : text_(text) {}
  // Amortised O(distance from the previous query): parsers ask for positions in increasing
  // order, and rescanning from the start each time made parsing quadratic.
  SourcePos PosOf(size_t offset) const;
  // "  <line>\n  <spaces>^" for the line holding `pos`; empty when pos is unknown.
  std::string Excerpt(SourcePos pos) const;
  [[noreturn]] void Fail(const std::string& cause, SourcePos pos) const {
    throw GrammarError(cause, pos.line, pos.column, Excerpt(pos));
  }
  [[noreturn]] void FailLimit(const std::string& cause, SourcePos pos) const {
    throw LimitError(cause, pos.line, pos.column, Excerpt(pos));
  }

 private:
  const std::string& text_;
  mutable size_t cursor_offset_ = 0;
  mutable SourcePos cursor_pos_{1, 1};
};

}  // namespace formgate

#endif  // FORMGATE_SOURCE_TEXT_H_
