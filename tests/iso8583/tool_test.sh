#!/usr/bin/env bash
# The iso8583 tool end to end: encode -> decode -> convert on every sample in
# both profiles and every framing (with auto-detection), masked output, error
# reporting (one line on stderr, exit 1) and option errors (exit 2).
# usage: tool_test.sh PATH/TO/iso8583 SAMPLES_DIR
set -u
tool=$1
samples=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
checks=0

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { checks=$((checks + 1)); }

# expect CODE DESCRIPTION -- command...: the exit status; for 1 exactly one
# line on stderr, for 2 something on stderr.
expect() {
	local want=$1 what=$2
	shift 3
	"$@" >"$work/out" 2>"$work/err"
	local rc=$?
	if [ "$rc" -ne "$want" ]; then
		fail "$what: exit $rc, want $want ($(head -c 300 "$work/err"))"
		return
	fi
	if [ "$want" -eq 2 ] && [ ! -s "$work/err" ]; then
		fail "$what: nothing on stderr"
		return
	fi
	if [ "$want" -eq 1 ]; then
		local lines
		lines=$(wc -l <"$work/err")
		if [ "$lines" -ne 1 ] || [ ! -s "$work/err" ]; then
			fail "$what: stderr has $lines lines: $(head -c 300 "$work/err")"
			return
		fi
	fi
	ok
}

# the framing header of FILE as written by hand: bin2 big-endian, ascii4 digits
check_header() {
	local framing=$1 file=$2 size body
	size=$(stat -c %s "$file")
	case $framing in
	bin2)
		body=$((size - 2))
		[ "$(od -An -tx1 -N2 "$file" | tr -d ' ')" = "$(printf '%04x' "$body")" ] ||
			fail "$file: bin2 header is not $body"
		;;
	ascii4)
		body=$((size - 4))
		[ "$(head -c 4 "$file")" = "$(printf '%04d' "$body")" ] ||
			fail "$file: ascii4 header is not $body"
		;;
	none)
		# an unframed message starts with its MTI
		case $(od -An -tx1 -N2 "$file" | tr -d ' ') in
		3032 | 3038 | 0200 | 0800) ;;
		*) fail "$file: does not start with an MTI" ;;
		esac
		;;
	esac
	ok
}

# no secret from the sample anywhere in FILE
check_masked() {
	local sample=$1 file=$2 pan track pin
	pan=$(sed -n 's/^2=//p' "$sample")
	track=$(sed -n 's/^35=[0-9]*=//p' "$sample")
	pin=$(sed -n 's/^52=//p' "$sample")
	[ -n "$pan" ] || fail "$sample has no DE 2"
	if grep -qF -- "$pan" "$file"; then fail "$file shows the full PAN"; fi
	if grep -qF -- "${pan:6:7}" "$file"; then fail "$file shows the middle of the PAN"; fi
	if [ -n "$track" ] && grep -qF -- "$track" "$file"; then fail "$file shows track 2 data"; fi
	if [ -n "$pin" ] && grep -qiF -- "$pin" "$file"; then fail "$file shows the PIN block"; fi
	grep -qF "${pan:0:6}" "$file" || fail "$file lacks the masked PAN"
	ok
}

other() { [ "$1" = ascii87 ] && echo binary87 || echo ascii87; }

for sample in "$samples"/*.txt; do
	name=$(basename "$sample" .txt)
	des=$(sed -n 's/^\([0-9]\+\)=.*/\1/p' "$sample")
	for prof in ascii87 binary87; do
		oprof=$(other "$prof")
		for framing in none bin2 ascii4; do
			enc="$work/$name.$prof.$framing"
			expect 0 "encode $name $prof $framing" -- \
				"$tool" encode --profile "$prof" --framing "$framing" "$sample"
			cp "$work/out" "$enc"
			check_header "$framing" "$enc"

			# decode, framing auto-detected and explicit, file and stdin
			for how in auto "$framing"; do
				expect 0 "decode $name $prof $how" -- \
					"$tool" decode --profile "$prof" --framing "$how" "$enc"
				dec="$work/dec"
				cp "$work/out" "$dec"
				grep -q "^  MTI     0200$" "$dec" || fail "decode $name $prof $how: no MTI line"
				grep -q "$prof" "$dec" || fail "decode $name: profile not named"
				for de in $des; do
					grep -q "^  DE $de " "$dec" || fail "decode $name $prof $how: DE $de missing"
				done
				[ "$(grep -c '^  DE ' "$dec")" -eq "$(echo "$des" | wc -w)" ] ||
					fail "decode $name $prof $how: wrong number of fields"
				check_masked "$sample" "$dec"
			done
			"$tool" decode --profile "$prof" <"$enc" >"$work/stdin.out" 2>"$work/err" ||
				fail "decode from stdin: $(cat "$work/err")"
			cmp -s "$work/stdin.out" "$dec" || fail "decode from stdin differs"

			# --hex both ways
			expect 0 "encode --hex" -- "$tool" encode --profile "$prof" --framing "$framing" --hex "$sample"
			[ "$(tr -d '\n' <"$work/out")" = "$(od -An -v -tx1 "$enc" | tr -d ' \n' | tr a-f A-F)" ] ||
				fail "encode --hex $name $prof $framing differs from the binary output"
			cp "$work/out" "$work/hex"
			expect 0 "decode --hex" -- "$tool" decode --profile "$prof" --hex "$work/hex"
			cmp -s "$work/out" "$dec" || fail "decode --hex $name differs"

			# convert to the other profile = encoding there; and back = the original
			expect 0 "convert $name $prof->$oprof" -- \
				"$tool" convert --from "$prof" --to "$oprof" "$enc"
			cp "$work/out" "$work/conv"
			"$tool" encode --profile "$oprof" --framing "$framing" "$sample" >"$work/direct" ||
				fail "encode $name $oprof"
			cmp -s "$work/conv" "$work/direct" ||
				fail "convert $name $prof->$oprof $framing differs from encoding in $oprof"
			expect 0 "convert back" -- "$tool" convert --from "$oprof" --to "$prof" "$work/conv"
			cmp -s "$work/out" "$enc" || fail "convert $name $prof->$oprof->$prof changed the bytes"
			# change framing on the way
			expect 0 "convert framing" -- "$tool" convert --from "$prof" --to "$prof" \
				--framing "$framing" --out-framing ascii4 "$enc"
			cp "$work/out" "$work/reframed"
			check_header ascii4 "$work/reframed"
			case $framing in none) skip=0 ;; bin2) skip=2 ;; ascii4) skip=4 ;; esac
			cmp -s <(tail -c +5 "$work/reframed") <(tail -c +$((skip + 1)) "$enc") ||
				fail "reframing $name $prof $framing changed the message"
		done
		# several framed messages in one stream
		for framing in bin2 ascii4; do
			cat "$work/$name.$prof.$framing" "$work/$name.$prof.$framing" >"$work/two"
			expect 0 "decode two $framing" -- "$tool" decode --profile "$prof" "$work/two"
			[ "$(grep -c '^message ' "$work/out")" -eq 2 ] || fail "two messages $framing: not 2"
			check_masked "$sample" "$work/out"
		done
	done
done
# the last pass of the loop left these behind
sample=$(ls "$samples"/*.txt | head -1)
name=$(basename "$sample" .txt)
asc="$work/$name.ascii87.none"
bin="$work/$name.binary87.bin2"

# --- errors in the input: one line on stderr, exit 1 --------------------------
head -c -1 "$asc" >"$work/short"
expect 1 "truncated message" -- "$tool" decode --profile ascii87 --framing none "$work/short"
grep -q "DE\|message" "$work/err" || fail "truncated message: unhelpful error"
check_masked_err() { if grep -qF -- "$(sed -n 's/^2=//p' "$sample")" "$work/err"; then fail "error shows the PAN"; fi; ok; }
check_masked_err
{ cat "$asc"; printf 'X'; } >"$work/trailing"
expect 1 "trailing byte" -- "$tool" decode --profile ascii87 --framing none "$work/trailing"
check_masked_err
expect 1 "ascii87 read as binary87" -- "$tool" decode --profile binary87 --framing none "$asc"
printf '\0\0' >"$work/zero"
expect 1 "zero length frame" -- "$tool" decode --profile binary87 --framing bin2 "$work/zero"
printf '00A0' >"$work/baddigit"
expect 1 "bad ascii4 header" -- "$tool" decode --framing ascii4 "$work/baddigit"
head -c -3 "$bin" >"$work/cut"
expect 1 "frame cut short" -- "$tool" decode --profile binary87 --framing bin2 "$work/cut"
: >"$work/empty"
expect 1 "empty input" -- "$tool" decode "$work/empty"
expect 1 "missing file" -- "$tool" decode "$work/does-not-exist"
printf 'zz' >"$work/badhex"
expect 1 "bad hex" -- "$tool" decode --hex "$work/badhex"
printf 'MTI=0200\n3=01a000\n' >"$work/e1"
expect 1 "encode non-digit" -- "$tool" encode "$work/e1"
printf '3=011000\n' >"$work/e2"
expect 1 "encode field before MTI" -- "$tool" encode "$work/e2"
printf 'MTI=0200\n65=1\n' >"$work/e3"
expect 1 "encode DE 65" -- "$tool" encode "$work/e3"
printf 'MTI=0200\n52=XYZ\n' >"$work/e4"
expect 1 "encode bad hex in b" -- "$tool" encode "$work/e4"
printf 'MTI=0900\n3=011000\n' >"$work/e5"
expect 1 "encode bad MTI" -- "$tool" encode "$work/e5"
printf '# nothing\n' >"$work/e6"
expect 1 "encode no message" -- "$tool" encode "$work/e6"
printf 'MTI=0200\n2=4761739001010010\n3=01a000\n' >"$work/e7"
expect 1 "encode error after a PAN" -- "$tool" encode "$work/e7"
if grep -qF 4761739001010010 "$work/err"; then fail "encode error shows the PAN"; fi
printf 'MTI=0200\n55=%s\n' "$(printf '9F%.0s' $(seq 500))" >"$work/e8"
expect 1 "encode DE 55 over 499 bytes in ascii87" -- "$tool" encode --profile ascii87 "$work/e8"
expect 0 "DE 55 of 500 bytes in binary87" -- "$tool" encode --profile binary87 "$work/e8"

# --- regression: an unframed ascii87 0100 of exactly 104 bytes starts with
# "0100", which also reads as an ASCII4 header for 100 bytes; auto-detection
# took it for a framed message and failed to decode it.
printf 'MTI=0100\n2=4761739001010010\n3=000000\n4=000000001000\n7=1123093015\n11=000001\n12=093015\n41=POS00001\n42=MERCH0000000001\n49=840\n' >"$work/m104.txt"
expect 0 "encode 104" -- "$tool" encode --profile ascii87 "$work/m104.txt"
cp "$work/out" "$work/m104"
[ "$(stat -c %s "$work/m104")" -eq 104 ] || fail "m104 is not 104 bytes"
expect 0 "bug_autodetect_unframed_0100_104_bytes" -- "$tool" decode --profile ascii87 "$work/m104"
grep -q "MTI     0100" "$work/out" || fail "m104 decoded wrongly"

# --- options: exit 2 ------------------------------------------------------------
expect 0 "--help" -- "$tool" --help
grep -q usage "$work/out" || fail "--help prints no usage"
expect 0 "decode --help" -- "$tool" decode --help
expect 2 "no arguments" -- "$tool"
expect 2 "unknown command" -- "$tool" frobnicate
expect 2 "unknown option" -- "$tool" decode --bogus "$asc"
expect 2 "unknown profile" -- "$tool" decode --profile ascii93 "$asc"
expect 2 "unknown framing" -- "$tool" decode --framing bin4 "$asc"
expect 2 "encode --framing auto" -- "$tool" encode --framing auto "$sample"
expect 2 "convert without --to" -- "$tool" convert --from ascii87 "$asc"
expect 2 "convert with --profile" -- "$tool" convert --profile ascii87 --from ascii87 --to binary87 "$asc"
expect 2 "option missing its value" -- "$tool" decode --profile
expect 2 "two files" -- "$tool" decode "$asc" "$asc"

echo "$checks checks, $fails failures"
[ "$fails" -eq 0 ]
