import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  EdtfError,
  OPEN_END_DAY,
  OPEN_START_DAY,
  dayNumber,
  dayToIso,
  daysInMonth,
  parseEdtf,
  tryParseEdtf,
  type EdtfPoint,
  type ParsedDate,
} from '../src/dates/edtf.js';
import { parseWindowBound } from '../src/dates/window.js';

type Flags = { uncertain?: boolean; approximate?: boolean };

function point(
  edtf: string,
  precision: EdtfPoint['precision'],
  earliest: string,
  latest: string,
  extra: Flags & { instant?: string } = {},
): EdtfPoint {
  const p: EdtfPoint = {
    edtf,
    precision,
    earliest,
    latest,
    uncertain: extra.uncertain ?? false,
    approximate: extra.approximate ?? false,
  };
  if (extra.instant !== undefined) p.instant = extra.instant;
  return p;
}

/** Expected result for a single (non-interval) value. */
function single(p: EdtfPoint): ParsedDate {
  const r: ParsedDate = {
    edtf: p.edtf,
    precision: p.precision,
    earliest: p.earliest,
    latest: p.latest,
    uncertain: p.uncertain,
    approximate: p.approximate,
  };
  if (p.instant !== undefined) r.instant = p.instant;
  return r;
}

/** Expected result for an interval. */
function interval(edtf: string, start: EdtfPoint | null, end: EdtfPoint | null): ParsedDate {
  return {
    edtf,
    precision: 'interval',
    earliest: start ? start.earliest : null,
    latest: end ? end.latest : null,
    uncertain: Boolean(start?.uncertain || end?.uncertain),
    approximate: Boolean(start?.approximate || end?.approximate),
    start,
    end,
  };
}

const U = { uncertain: true };
const A = { approximate: true };
const UA = { uncertain: true, approximate: true };

describe('parseEdtf: accepted single values', () => {
  const cases: Array<[string, ParsedDate]> = [
    // years
    ['2022', single(point('2022', 'year', '2022-01-01', '2022-12-31'))],
    ['0000', single(point('0000', 'year', '0000-01-01', '0000-12-31'))],
    ['9999', single(point('9999', 'year', '9999-01-01', '9999-12-31'))],
    ['0099', single(point('0099', 'year', '0099-01-01', '0099-12-31'))],
    // months (incl. February in leap / non-leap / century years)
    ['2022-01', single(point('2022-01', 'month', '2022-01-01', '2022-01-31'))],
    ['2022-04', single(point('2022-04', 'month', '2022-04-01', '2022-04-30'))],
    ['2022-12', single(point('2022-12', 'month', '2022-12-01', '2022-12-31'))],
    ['2022-02', single(point('2022-02', 'month', '2022-02-01', '2022-02-28'))],
    ['2024-02', single(point('2024-02', 'month', '2024-02-01', '2024-02-29'))],
    ['1900-02', single(point('1900-02', 'month', '1900-02-01', '1900-02-28'))],
    ['2000-02', single(point('2000-02', 'month', '2000-02-01', '2000-02-29'))],
    ['0000-02', single(point('0000-02', 'month', '0000-02-01', '0000-02-29'))],
    // days
    ['2022-01-05', single(point('2022-01-05', 'day', '2022-01-05', '2022-01-05'))],
    ['2024-02-29', single(point('2024-02-29', 'day', '2024-02-29', '2024-02-29'))],
    ['2000-02-29', single(point('2000-02-29', 'day', '2000-02-29', '2000-02-29'))],
    ['0000-02-29', single(point('0000-02-29', 'day', '0000-02-29', '0000-02-29'))],
    ['0000-01-01', single(point('0000-01-01', 'day', '0000-01-01', '0000-01-01'))],
    ['9999-12-31', single(point('9999-12-31', 'day', '9999-12-31', '9999-12-31'))],
    ['2022-04-30', single(point('2022-04-30', 'day', '2022-04-30', '2022-04-30'))],
    // qualifiers never move the bounds
    ['2022?', single(point('2022?', 'year', '2022-01-01', '2022-12-31', U))],
    ['2022~', single(point('2022~', 'year', '2022-01-01', '2022-12-31', A))],
    ['2022%', single(point('2022%', 'year', '2022-01-01', '2022-12-31', UA))],
    ['2022-02~', single(point('2022-02~', 'month', '2022-02-01', '2022-02-28', A))],
    ['2024-02-29?', single(point('2024-02-29?', 'day', '2024-02-29', '2024-02-29', U))],
    ['0000-12-31%', single(point('0000-12-31%', 'day', '0000-12-31', '0000-12-31', UA))],
  ];
  it.each(cases)('%s', (input, expected) => {
    expect(parseEdtf(input)).toStrictEqual(expected);
    expect(tryParseEdtf(input)).toStrictEqual({ ok: true, value: expected });
  });
});

describe('parseEdtf: accepted instants', () => {
  const inst = (edtf: string, localDate: string, utc: string, flags: Flags = {}) =>
    single(point(edtf, 'instant', localDate, localDate, { ...flags, instant: utc }));
  const cases: Array<[string, ParsedDate]> = [
    ['2022-01-05T14:30:00Z', inst('2022-01-05T14:30:00Z', '2022-01-05', '2022-01-05T14:30:00Z')],
    ['2022-01-05T14:30Z', inst('2022-01-05T14:30Z', '2022-01-05', '2022-01-05T14:30:00Z')],
    ['2022-01-05T14:30:00+06:00', inst('2022-01-05T14:30:00+06:00', '2022-01-05', '2022-01-05T08:30:00Z')],
    // positive offset crossing midnight backwards: the calendar date stays the local one
    ['2022-01-05T01:30:00+06:00', inst('2022-01-05T01:30:00+06:00', '2022-01-05', '2022-01-04T19:30:00Z')],
    // negative offset crossing midnight forwards
    ['2022-01-05T23:30:00-05:00', inst('2022-01-05T23:30:00-05:00', '2022-01-05', '2022-01-06T04:30:00Z')],
    // crossing a month, a year and a leap day
    ['2022-01-01T00:15+01:00', inst('2022-01-01T00:15+01:00', '2022-01-01', '2021-12-31T23:15:00Z')],
    ['2021-12-31T22:00-03:30', inst('2021-12-31T22:00-03:30', '2021-12-31', '2022-01-01T01:30:00Z')],
    ['2024-02-28T23:00-02:00', inst('2024-02-28T23:00-02:00', '2024-02-28', '2024-02-29T01:00:00Z')],
    ['2024-03-01T00:30+05:45', inst('2024-03-01T00:30+05:45', '2024-03-01', '2024-02-29T18:45:00Z')],
    ['2023-03-01T00:30+05:45', inst('2023-03-01T00:30+05:45', '2023-03-01', '2023-02-28T18:45:00Z')],
    // extreme offsets
    ['2022-06-15T00:00+14:00', inst('2022-06-15T00:00+14:00', '2022-06-15', '2022-06-14T10:00:00Z')],
    ['2022-06-15T23:59:59-14:00', inst('2022-06-15T23:59:59-14:00', '2022-06-15', '2022-06-16T13:59:59Z')],
    ['2022-06-15T12:00-00:00', inst('2022-06-15T12:00-00:00', '2022-06-15', '2022-06-15T12:00:00Z')],
    ['2022-06-15T12:00+00:00', inst('2022-06-15T12:00+00:00', '2022-06-15', '2022-06-15T12:00:00Z')],
    // fractional seconds are normalised to 3 digits
    ['2022-01-05T14:30:00.123Z', inst('2022-01-05T14:30:00.123Z', '2022-01-05', '2022-01-05T14:30:00.123Z')],
    ['2022-01-05T14:30:00.5+01:00', inst('2022-01-05T14:30:00.5+01:00', '2022-01-05', '2022-01-05T13:30:00.500Z')],
    ['2022-01-05T14:30:59.07Z', inst('2022-01-05T14:30:59.07Z', '2022-01-05', '2022-01-05T14:30:59.070Z')],
    // year 0000 and 9999 (staying inside 0000-9999 in UTC)
    ['0000-01-01T00:00Z', inst('0000-01-01T00:00Z', '0000-01-01', '0000-01-01T00:00:00Z')],
    ['0000-01-01T10:00+09:00', inst('0000-01-01T10:00+09:00', '0000-01-01', '0000-01-01T01:00:00Z')],
    ['0000-02-29T23:00-01:00', inst('0000-02-29T23:00-01:00', '0000-02-29', '0000-03-01T00:00:00Z')],
    ['9999-12-31T23:59:59.999Z', inst('9999-12-31T23:59:59.999Z', '9999-12-31', '9999-12-31T23:59:59.999Z')],
    // qualified instants
    ['2022-01-05T14:30Z?', inst('2022-01-05T14:30Z?', '2022-01-05', '2022-01-05T14:30:00Z', U)],
    ['2022-01-05T01:30:00+06:00~', inst('2022-01-05T01:30:00+06:00~', '2022-01-05', '2022-01-04T19:30:00Z', A)],
  ];
  it.each(cases)('%s', (input, expected) => {
    expect(parseEdtf(input)).toStrictEqual(expected);
  });
});

describe('parseEdtf: accepted intervals', () => {
  const cases: Array<[string, ParsedDate]> = [
    [
      '2022/2023',
      interval('2022/2023', point('2022', 'year', '2022-01-01', '2022-12-31'), point('2023', 'year', '2023-01-01', '2023-12-31')),
    ],
    [
      '2022/2022',
      interval('2022/2022', point('2022', 'year', '2022-01-01', '2022-12-31'), point('2022', 'year', '2022-01-01', '2022-12-31')),
    ],
    [
      '2022-01/2022-01-15',
      interval('2022-01/2022-01-15', point('2022-01', 'month', '2022-01-01', '2022-01-31'), point('2022-01-15', 'day', '2022-01-15', '2022-01-15')),
    ],
    [
      // overlapping but not backwards: start's earliest <= end's latest
      '2022-01-15/2022-01',
      interval('2022-01-15/2022-01', point('2022-01-15', 'day', '2022-01-15', '2022-01-15'), point('2022-01', 'month', '2022-01-01', '2022-01-31')),
    ],
    [
      '2024-02/2024-02-29',
      interval('2024-02/2024-02-29', point('2024-02', 'month', '2024-02-01', '2024-02-29'), point('2024-02-29', 'day', '2024-02-29', '2024-02-29')),
    ],
    [
      '0000/9999',
      interval('0000/9999', point('0000', 'year', '0000-01-01', '0000-12-31'), point('9999', 'year', '9999-01-01', '9999-12-31')),
    ],
    // qualifiers on either part; flags are the OR
    [
      '2004-06~/2004-07?',
      interval('2004-06~/2004-07?', point('2004-06~', 'month', '2004-06-01', '2004-06-30', A), point('2004-07?', 'month', '2004-07-01', '2004-07-31', U)),
    ],
    [
      '2004-06/2004-07%',
      interval('2004-06/2004-07%', point('2004-06', 'month', '2004-06-01', '2004-06-30'), point('2004-07%', 'month', '2004-07-01', '2004-07-31', UA)),
    ],
    [
      '2004?/2005',
      interval('2004?/2005', point('2004?', 'year', '2004-01-01', '2004-12-31', U), point('2005', 'year', '2005-01-01', '2005-12-31')),
    ],
    // open ends
    ['../2022-01-05', interval('../2022-01-05', null, point('2022-01-05', 'day', '2022-01-05', '2022-01-05'))],
    ['2022-01-02/..', interval('2022-01-02/..', point('2022-01-02', 'day', '2022-01-02', '2022-01-02'), null)],
    ['../2022~', interval('../2022~', null, point('2022~', 'year', '2022-01-01', '2022-12-31', A))],
    ['2022-01?/..', interval('2022-01?/..', point('2022-01?', 'month', '2022-01-01', '2022-01-31', U), null)],
    ['../0000-02%', interval('../0000-02%', null, point('0000-02%', 'month', '0000-02-01', '0000-02-29', UA))],
    // instants as parts: dates are local to each instant's offset
    [
      '2022-01-05T01:30:00+06:00/2022-01-05T23:30:00-05:00',
      interval(
        '2022-01-05T01:30:00+06:00/2022-01-05T23:30:00-05:00',
        point('2022-01-05T01:30:00+06:00', 'instant', '2022-01-05', '2022-01-05', { instant: '2022-01-04T19:30:00Z' }),
        point('2022-01-05T23:30:00-05:00', 'instant', '2022-01-05', '2022-01-05', { instant: '2022-01-06T04:30:00Z' }),
      ),
    ],
    [
      '2022-01-05T09:00Z/2022-01-05T09:00Z',
      interval(
        '2022-01-05T09:00Z/2022-01-05T09:00Z',
        point('2022-01-05T09:00Z', 'instant', '2022-01-05', '2022-01-05', { instant: '2022-01-05T09:00:00Z' }),
        point('2022-01-05T09:00Z', 'instant', '2022-01-05', '2022-01-05', { instant: '2022-01-05T09:00:00Z' }),
      ),
    ],
    [
      // same instant written in two offsets, different local dates
      '2022-01-05T23:00-05:00/2022-01-06T04:00Z',
      interval(
        '2022-01-05T23:00-05:00/2022-01-06T04:00Z',
        point('2022-01-05T23:00-05:00', 'instant', '2022-01-05', '2022-01-05', { instant: '2022-01-06T04:00:00Z' }),
        point('2022-01-06T04:00Z', 'instant', '2022-01-06', '2022-01-06', { instant: '2022-01-06T04:00:00Z' }),
      ),
    ],
    [
      '2022-01-05T10:00Z~/2022-02',
      interval(
        '2022-01-05T10:00Z~/2022-02',
        point('2022-01-05T10:00Z~', 'instant', '2022-01-05', '2022-01-05', { instant: '2022-01-05T10:00:00Z', approximate: true }),
        point('2022-02', 'month', '2022-02-01', '2022-02-28'),
      ),
    ],
    [
      '../2022-01-05T14:30:00.25+01:00',
      interval(
        '../2022-01-05T14:30:00.25+01:00',
        null,
        point('2022-01-05T14:30:00.25+01:00', 'instant', '2022-01-05', '2022-01-05', { instant: '2022-01-05T13:30:00.250Z' }),
      ),
    ],
    [
      '2022/2022-01-01T00:00+01:00',
      interval(
        '2022/2022-01-01T00:00+01:00',
        point('2022', 'year', '2022-01-01', '2022-12-31'),
        point('2022-01-01T00:00+01:00', 'instant', '2022-01-01', '2022-01-01', { instant: '2021-12-31T23:00:00Z' }),
      ),
    ],
  ];
  it.each(cases)('%s', (input, expected) => {
    const parsed = parseEdtf(input);
    expect(parsed).toStrictEqual(expected);
    expect(parsed.instant).toBeUndefined();
  });

  it('the parts of an interval parse on their own to the same bounds', () => {
    for (const [input] of cases) {
      const parsed = parseEdtf(input);
      for (const p of [parsed.start, parsed.end]) {
        if (!p) continue;
        const alone = parseEdtf(p.edtf);
        expect(alone).toMatchObject({
          precision: p.precision,
          earliest: p.earliest,
          latest: p.latest,
          uncertain: p.uncertain,
          approximate: p.approximate,
        });
        expect(alone.instant).toBe(p.instant);
      }
    }
  });
});

describe('parseEdtf: refusals', () => {
  // [input, fragment (or regexp) the message must contain]
  const cases: Array<[string, string | RegExp]> = [
    // impossible days
    ['2022-02-30', 'February 2022 has 28 days'],
    ['2022-02-29', 'February 2022 has 28 days (2022 is not a leap year)'],
    ['2021-02-29', 'February 2021 has 28 days (2021 is not a leap year)'],
    ['1900-02-29', 'February 1900 has 28 days (1900 is not a leap year)'],
    ['2024-02-30', 'February 2024 has 29 days'],
    ['2022-04-31', 'April 2022 has 30 days'],
    ['2022-06-31', 'June 2022 has 30 days'],
    ['2022-09-31', 'September 2022 has 30 days'],
    ['2022-11-31', 'November 2022 has 30 days'],
    ['2022-01-32', 'January 2022 has 31 days'],
    ['2022-12-99', 'December 2022 has 31 days'],
    ['0001-02-29', 'February 0001 has 28 days'],
    ['2022-01-00', 'day 00 does not exist'],
    // months
    ['2022-00', 'month 00 does not exist'],
    ['2022-00-10', 'month 00 does not exist'],
    ['2022-13', 'month 13 does not exist'],
    ['2022-13-01', 'month 13 does not exist'],
    ['2022-20', 'month 20 does not exist'],
    ['2022-99', 'month 99 does not exist'],
    ['2022-21', 'seasons (21-41) are not supported'],
    ['2022-41', 'seasons (21-41) are not supported'],
    // times
    ['2022-01-05T24:00Z', 'hour 24 is out of range'],
    ['2022-01-05T10:60Z', 'minute 60 is out of range'],
    ['2022-01-05T10:00:60Z', 'leap seconds are not supported'],
    ['2022-01-05T10:00:75Z', 'second 75 is out of range'],
    ['2022-01-05T10:00', 'a time needs a UTC offset'],
    ['2022-01-05T10:00:00', 'a time needs a UTC offset'],
    ['2022-01-05T10:00:00.123', 'a time needs a UTC offset'],
    ['2022-02-30T10:00Z', 'February 2022 has 28 days'],
    ['2022-01T10:00Z', 'a time needs a full date'],
    ['2022-01-05T10Z', 'the time must be hh:mm'],
    ['2022-01-05T1:00Z', 'the time must be hh:mm'],
    ['2022-01-05T10:00.5Z', 'fractional seconds need seconds'],
    ['2022-01-05T10:00:00.Z', 'fractional seconds need digits'],
    ['2022-01-05T10:00:00,5Z', 'use "." for fractional seconds'],
    ['2022-01-05T10:00:00.1234Z', 'fractional seconds are limited to 3 digits'],
    ['2022-01-05t10:00Z', 'uppercase "T"'],
    ['2022-01-05T10:00z', 'uppercase "Z"'],
    ['2022-01-05 10:00Z', 'use "T" between the date and the time'],
    // offsets
    ['2022-01-05T10:00+15:00', 'is outside -14:00..+14:00'],
    ['2022-01-05T10:00-14:01', 'is outside -14:00..+14:00'],
    ['2022-01-05T10:00+05:60', 'minutes must be 00-59'],
    ['2022-01-05T10:00+0600', 'UTC offset "+0600" must be "Z" or ±HH:MM'],
    ['2022-01-05T10:00+06', 'UTC offset "+06" must be "Z" or ±HH:MM'],
    ['2022-01-05T10:00UTC', 'UTC offset "UTC" must be "Z" or ±HH:MM'],
    ['0000-01-01T00:30+01:00', 'falls outside the years 0000-9999'],
    ['9999-12-31T23:00-01:00', 'falls outside the years 0000-9999'],
    // shape
    ['2022-1-5', 'the month must have exactly 2 digits'],
    ['2022-01-5', 'the day must have exactly 2 digits'],
    ['22', 'the year must have exactly 4 digits'],
    ['202', 'the year must have exactly 4 digits'],
    ['20220', 'the year must have exactly 4 digits'],
    ['Y170000', '"Y" long years are not supported'],
    ['-2022', 'without a sign'],
    ['+2022', 'without a sign'],
    ['20XX', 'unspecified digits ("X") are not supported'],
    ['2022-XX', 'unspecified digits ("X") are not supported'],
    ['[2022, 2023]', 'sets'],
    ['[..2022]', 'sets'],
    ['{2022,2023}', 'sets'],
    ['', 'empty date'],
    [' 2022', 'leading or trailing whitespace'],
    ['2022 ', 'leading or trailing whitespace'],
    ['2022\n', 'leading or trailing whitespace'],
    ['20 22', 'whitespace is not allowed inside a date'],
    ['hello', 'not a supported EDTF date'],
    ['2022-01-05T', 'the time must be hh:mm'],
    ['2022--01', 'not a supported EDTF date'],
    ['2022.01.05', 'not a supported EDTF date'],
    // qualifiers
    ['2022?-01', 'qualifiers ("?", "~", "%") are only allowed at the end'],
    ['?2022', 'only allowed at the end'],
    ['2022-?01', 'only allowed at the end'],
    ['2022??', 'only one qualifier is allowed'],
    ['2022?~', 'only one qualifier is allowed'],
    ['2022-01%%', 'only one qualifier is allowed'],
    ['?', 'a qualifier needs a date before it'],
    // intervals
    ['../..', 'cannot be open at both ends'],
    ['..', 'only allowed as one side of an interval'],
    ['/2022', 'use ".." for an open start'],
    ['2022/', 'use ".." for an open end'],
    ['/', 'both sides of the interval are empty'],
    ['2022/2023/2024', 'exactly one "/"'],
    ['..~/2022', 'an open start ("..") cannot carry a qualifier'],
    ['2022/..?', 'an open end ("..") cannot carry a qualifier'],
    ['2022/..2023', 'use ".." alone for an open end'],
    ['2023/2022', 'the interval ends (2022-12-31) before it starts (2023-01-01)'],
    ['2022-02/2022-01-31', 'the interval ends (2022-01-31) before it starts (2022-02-01)'],
    ['2022-01-02/2022-01-01', 'the interval ends (2022-01-01) before it starts (2022-01-02)'],
    ['2023~/2022?', 'before it starts'],
    ['2022-01-05T10:00Z/2022-01-05T09:59:59.999Z', 'the interval ends (2022-01-05T09:59:59.999Z) before it starts (2022-01-05T10:00:00Z)'],
    // same local date on both sides but backwards in real time
    ['2022-01-05T10:00+01:00/2022-01-05T10:00+02:00', 'before it starts (2022-01-05T09:00:00Z)'],
    // local dates look fine, UTC instants are backwards
    ['2022-01-05T23:00-05:00/2022-01-06T01:00+06:00', 'the interval ends (2022-01-05T19:00:00Z) before it starts (2022-01-06T04:00:00Z)'],
    ['2022-02-30/2023', 'start "2022-02-30": February 2022 has 28 days'],
    ['2022/2022-13', 'end "2022-13": month 13 does not exist'],
    ['2022/2022-01-05T10:00', 'end "2022-01-05T10:00": a time needs a UTC offset'],
    ['2022?-01/2023', 'start "2022?-01": qualifiers'],
    ['2022/2023??', 'end "2023??": only one qualifier'],
  ];
  it.each(cases)('%j', (input, fragment) => {
    let caught: unknown;
    try {
      parseEdtf(input);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(EdtfError);
    const err = caught as EdtfError;
    expect(err.input).toBe(input);
    expect(err.message.startsWith(`${JSON.stringify(input)}: `)).toBe(true);
    expect(err.message).toBe(`${JSON.stringify(input)}: ${err.reason}`);
    if (typeof fragment === 'string') expect(err.reason).toContain(fragment);
    else expect(err.reason).toMatch(fragment);

    const tried = tryParseEdtf(input);
    expect(tried).toStrictEqual({ ok: false, error: err.message });
  });

  it('EdtfError is an Error with name EdtfError', () => {
    const err = (() => {
      try {
        parseEdtf('2022-02-30');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('EdtfError');
    expect((err as Error).message).toBe('"2022-02-30": February 2022 has 28 days');
  });

  it('refuses non-string input with an EdtfError', () => {
    expect(() => parseEdtf(undefined as unknown as string)).toThrow(EdtfError);
    expect(tryParseEdtf(42 as unknown as string)).toMatchObject({ ok: false, error: expect.stringContaining('expected a string') });
  });

  it('shortens very long inputs in the message', () => {
    const input = '2'.repeat(500);
    const r = tryParseEdtf(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.length).toBeLessThan(300);
  });
});

describe('daysInMonth', () => {
  it.each([
    [2022, 1, 31], [2022, 2, 28], [2024, 2, 29], [1900, 2, 28], [2000, 2, 29], [0, 2, 29], [1, 2, 28],
    [2100, 2, 28], [2400, 2, 29], [2022, 4, 30], [2022, 6, 30], [2022, 9, 30], [2022, 11, 30], [2022, 12, 31],
  ])('daysInMonth(%i, %i) = %i', (y, m, expected) => {
    expect(daysInMonth(y, m)).toBe(expected);
  });
  it.each([[2022, 0], [2022, 13], [2022, 1.5]])('daysInMonth(%d, %d) throws', (y, m) => {
    expect(() => daysInMonth(y, m)).toThrow(RangeError);
  });
});

describe('dayNumber / dayToIso', () => {
  it.each([
    ['1970-01-01', 0],
    ['1970-01-02', 1],
    ['1969-12-31', -1],
    ['2000-01-01', 10957],
    ['2000-03-01', 11017],
    ['2022-01-05', 18997],
    ['1900-03-01', -25508],
    ['1600-01-01', -135140],
    ['0001-01-01', -719162],
    ['0000-03-01', -719468],
    ['0000-02-29', -719469],
    ['0000-01-01', -719528],
    ['9999-12-31', 2932896],
  ])('%s <-> %i', (iso, day) => {
    expect(dayNumber(iso)).toBe(day);
    expect(dayToIso(day)).toBe(iso);
  });

  it('agrees with Date.UTC for years where Date is reliable', () => {
    for (const iso of ['1583-10-15', '1899-12-31', '1970-01-01', '2038-01-19', '2400-02-29', '9999-12-31']) {
      expect(dayNumber(iso)).toBe(Date.UTC(+iso.slice(0, 4), +iso.slice(5, 7) - 1, +iso.slice(8, 10)) / 86_400_000);
    }
  });

  it.each(['2022-02-30', '2022-13-01', '2022-1-5', '22-01-01', '', '2022-01-05T00:00Z', ' 2022-01-01'])(
    'dayNumber(%j) throws RangeError',
    (bad) => {
      expect(() => dayNumber(bad)).toThrow(RangeError);
    },
  );

  it.each([OPEN_START_DAY, OPEN_END_DAY, -719529, 2932897, 0.5, Number.NaN])('dayToIso(%d) throws RangeError', (bad) => {
    expect(() => dayToIso(bad)).toThrow(RangeError);
  });

  it('sentinels lie outside every real day', () => {
    expect(OPEN_START_DAY).toBeLessThan(dayNumber('0000-01-01'));
    expect(OPEN_END_DAY).toBeGreaterThan(dayNumber('9999-12-31'));
    expect(Number.isSafeInteger(OPEN_START_DAY)).toBe(true);
    expect(Number.isSafeInteger(OPEN_END_DAY)).toBe(true);
  });

  it('walks every day from 0000-01-01 to 9999-12-31 consecutively', () => {
    let expected = dayNumber('0000-01-01');
    for (let y = 0; y <= 9999; y++) {
      for (let m = 1; m <= 12; m++) {
        const dim = daysInMonth(y, m);
        for (let d = 1; d <= dim; d++) {
          const iso = `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
          const n = dayNumber(iso);
          if (n !== expected) expect(n).toBe(expected); // only call expect on failure: 3.6M days
          const back = dayToIso(n);
          if (back !== iso) expect(back).toBe(iso);
          expected++;
        }
      }
    }
    expect(expected - 1).toBe(dayNumber('9999-12-31'));
  });

  const isoDateArb = fc
    .record({ y: fc.integer({ min: 0, max: 9999 }), m: fc.integer({ min: 1, max: 12 }), d: fc.integer({ min: 1, max: 31 }) })
    .filter(({ y, m, d }) => d <= daysInMonth(y, m))
    .map(({ y, m, d }) => `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`);

  it('property: dayToIso(dayNumber(x)) === x', () => {
    fc.assert(
      fc.property(isoDateArb, (iso) => dayToIso(dayNumber(iso)) === iso),
      { numRuns: 5000 },
    );
  });

  it('property: dayNumber(dayToIso(n)) === n over the whole range', () => {
    fc.assert(
      fc.property(fc.integer({ min: dayNumber('0000-01-01'), max: dayNumber('9999-12-31') }), (n) => dayNumber(dayToIso(n)) === n),
      { numRuns: 5000 },
    );
  });

  it('property: dayNumber is strictly monotonic and the next calendar date is exactly one day later', () => {
    const nextDate = (iso: string): string => {
      let y = +iso.slice(0, 4);
      let m = +iso.slice(5, 7);
      let d = +iso.slice(8, 10) + 1;
      if (d > daysInMonth(y, m)) {
        d = 1;
        m++;
        if (m > 12) {
          m = 1;
          y++;
        }
      }
      return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
    };
    fc.assert(
      fc.property(
        isoDateArb.filter((iso) => iso !== '9999-12-31'),
        (iso) => {
          const next = nextDate(iso);
          return dayNumber(next) === dayNumber(iso) + 1 && next > iso;
        },
      ),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(isoDateArb, isoDateArb, (a, b) => Math.sign(dayNumber(a) - dayNumber(b)) === Math.sign(a.localeCompare(b))),
      { numRuns: 5000 },
    );
  });
});

describe('parseWindowBound', () => {
  it.each<[string, 'from' | 'to', string]>([
    ['2022', 'from', '2022-01-01'],
    ['2022', 'to', '2022-12-31'],
    ['2022-01', 'from', '2022-01-01'],
    ['2022-01', 'to', '2022-01-31'],
    ['2022-02', 'to', '2022-02-28'],
    ['2024-02', 'to', '2024-02-29'],
    ['1900-02', 'to', '1900-02-28'],
    ['2000-02', 'to', '2000-02-29'],
    ['2022-01-05', 'from', '2022-01-05'],
    ['2022-01-05', 'to', '2022-01-05'],
    ['0000', 'from', '0000-01-01'],
    ['0000-02', 'to', '0000-02-29'],
    ['9999', 'to', '9999-12-31'],
  ])('%s=%s -> %s', (value, side, iso) => {
    expect(parseWindowBound(value, side)).toStrictEqual({ ok: true, day: dayNumber(iso), iso });
  });

  it.each<[string, 'from' | 'to', string]>([
    ['2022-02-30', 'to', 'to="2022-02-30": February 2022 has 28 days'],
    ['2021-02-29', 'from', 'from="2021-02-29": February 2021 has 28 days'],
    ['2022-13', 'from', 'month 13 does not exist'],
    ['2022-00', 'to', 'month 00 does not exist'],
    ['2022-21', 'from', 'seasons'],
    ['2022-1-5', 'from', 'the month must have exactly 2 digits'],
    ['22', 'to', 'the year must have exactly 4 digits'],
    ['', 'from', 'from="": empty value'],
    [' 2022', 'from', 'leading or trailing whitespace'],
    ['2022?', 'from', 'qualifiers ("?", "~", "%") are not allowed here'],
    ['2022-01~', 'to', 'qualifiers ("?", "~", "%") are not allowed here'],
    ['2022/2023', 'from', 'an interval is not allowed here'],
    ['../2023', 'to', 'an interval is not allowed here'],
    ['2022-01-05T10:00Z', 'to', 'a time is not allowed here'],
    ['2022-01-05T10:00', 'to', 'a time needs a UTC offset'],
    ['yesterday', 'from', 'from="yesterday": not a date; from takes a year, month or day: YYYY, YYYY-MM or YYYY-MM-DD'],
    ['..', 'to', 'only allowed as one side of an interval'],
  ])('%j as %s is refused', (value, side, fragment) => {
    const r = parseWindowBound(value, side);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error).toContain(fragment);
      expect(r.error.startsWith(`${side}=`)).toBe(true);
    }
  });
});
