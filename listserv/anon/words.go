package anon

import "strings"

// commonWords are words that are also names (or parts of addresses) but
// too common in ordinary text to replace on their own: a member called
// Hope or Will keeps their full name, their surname and their address
// hidden, but "I hope" stays "I hope". Lower case; the list is ours,
// picked by hand from everyday English and the names that double as words.
var commonWords = func() map[string]bool {
	m := make(map[string]bool)
	for _, w := range strings.Fields(`
a about above after again against all almost also always am an and any are
around as at away back bad be because been before being below best better
between big both but by call came can care case child come could day days
did do does doing done down during each early end even ever every face fact
family far feel few find first for found free friend from full get give go
going good got great group had hand hard has have having he help her here
hers him his home hope how i if in into is it its just keep kind know last
late left less life like line little long look lot love made make man many
may me might mind more most much must my name need never new next nice night
no not now of off often old on once one only open or other our out over own
part people place point put read real really right said same saw say see
seem she should show side since small so some soon still such sure take
talk tell than thank thanks that the their them then there these they thing
think this those though thought through time to today told too took true try
turn two under until up upon us use very want was way we week well went were
what when where which while who whole why will with without word work world
would year yes yet you young your
dear hi hello best regards cheers love kind sincerely yours warm wishes
april august autumn june may summer winter spring march
amber angel april art bill bob dawn faith frank grace guy hazel holly hope
honey ivy jack jade jay jewel joy june king lily mark may max melody
miles mercy pat penny pearl rich robin rose ruby rusty sandy scott star
sky sterling storm sue summer sunny terry victor violet will willow wolf
young brown green white black gray grey long short small little
`) {
		m[w] = true
	}
	return m
}()

// commonWord reports whether w (any case) is in commonWords.
func commonWord(w string) bool { return commonWords[strings.ToLower(w)] }
