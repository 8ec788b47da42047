import { describe, expect, it } from 'vitest';
import { parseJavaMajor, problems } from '../../../tools/verification/prerequisites/prerequisites';

describe('npm test prerequisites', () => {
  it('reads the Java major version from `java -version`', () => {
    expect(parseJavaMajor('openjdk version "17.0.13" 2024-10-15')).toBe(17);
    expect(parseJavaMajor('java version "1.8.0_401"')).toBe(8);
    expect(parseJavaMajor('no java here')).toBeUndefined();
  });

  it('names each missing prerequisite with how to install it', () => {
    expect(problems({ chromium: true, java: 21 })).toEqual([]);
    const found = problems({ chromium: false, java: 11 });
    expect(found.map((p) => p.fix)).toEqual([
      'sudo apt-get install -y chromium',
      'sudo apt-get install -y openjdk-17-jre-headless',
    ]);
    expect(found[0]?.what).toMatch(/Chromium is missing at \/usr\/bin\/chromium/);
    expect(problems({ chromium: true, java: undefined })[0]?.what).toMatch(/found: none/);
  });
});
