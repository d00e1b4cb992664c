// Package wine tells whether a Windows program runs under Wine rather than Windows, for the
// few places where Wine's behaviour differs and the code or a test must allow for it.
package wine
