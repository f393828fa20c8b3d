import { describe, expect, it } from 'vitest'
import { html } from './html.js'

describe('html``', () => {
  it('escapes every interpolated string, in text and in attributes', () => {
    const name = `<img src=x onerror="alert('1')">&\``
    expect(html`<p title="${name}">${name}</p>`.value).toBe(
      '<p title="&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;&#96;">&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;&#96;</p>',
    )
  })

  it('keeps nested html`` as markup, joins arrays, and renders null, undefined and false as nothing', () => {
    const items = ['a<', 'b>'].map((item) => html`<li>${item}</li>`)
    expect(html`<ul>${items}</ul>${null}${undefined}${false}${0}`.value).toBe('<ul><li>a&lt;</li><li>b&gt;</li></ul>0')
  })
})
