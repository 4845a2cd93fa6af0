//! The 2-core of the reader x article graph: drop readers who touched only one
//! article and articles touched by only one reader, repeated until nothing
//! changes (one pass is not enough: dropping a reader can leave an article with
//! one reader).

/// Which pairs survived, and how many passes reaching the fixed point took
/// (the last pass is the one that changed nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Core {
    pub alive: Vec<bool>,
    pub passes: u32,
}

/// Keeps the pairs of readers with at least `min_degree` articles and articles
/// with at least `min_degree` readers, iterated to the fixed point. `pairs`
/// are distinct (reader, article) codes below `readers` and `articles`.
pub fn filter(pairs: &[(u32, u32)], readers: usize, articles: usize, min_degree: u32) -> Core {
    let mut alive = vec![true; pairs.len()];
    let mut reader_degree = vec![0u32; readers];
    let mut article_degree = vec![0u32; articles];
    let mut passes = 0;
    loop {
        passes += 1;
        let mut removed = false;
        // readers first, then articles on what is left: the order the original job used
        reader_degree.fill(0);
        for (&(r, _), _) in pairs.iter().zip(&alive).filter(|(_, &a)| a) {
            reader_degree[r as usize] += 1;
        }
        for (&(r, _), a) in pairs.iter().zip(alive.iter_mut()) {
            if *a && reader_degree[r as usize] < min_degree {
                *a = false;
                removed = true;
            }
        }
        article_degree.fill(0);
        for (&(_, t), _) in pairs.iter().zip(&alive).filter(|(_, &a)| a) {
            article_degree[t as usize] += 1;
        }
        for (&(_, t), a) in pairs.iter().zip(alive.iter_mut()) {
            if *a && article_degree[t as usize] < min_degree {
                *a = false;
                removed = true;
            }
        }
        if !removed {
            return Core { alive, passes };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Edges by name, coded in order of first appearance.
    fn coded(edges: &[(&str, &str)]) -> (Vec<(u32, u32)>, Vec<String>, Vec<String>) {
        let (mut readers, mut articles) = (Vec::<String>::new(), Vec::<String>::new());
        let code = |names: &mut Vec<String>, n: &str| match names.iter().position(|x| x == n) {
            Some(i) => i as u32,
            None => {
                names.push(n.to_string());
                (names.len() - 1) as u32
            }
        };
        let pairs = edges
            .iter()
            .map(|(r, a)| (code(&mut readers, r), code(&mut articles, a)))
            .collect();
        (pairs, readers, articles)
    }

    fn survivors(edges: &[(&str, &str)]) -> (Vec<(String, String)>, u32) {
        let (pairs, readers, articles) = coded(edges);
        let core = filter(&pairs, readers.len(), articles.len(), 2);
        let kept = pairs
            .iter()
            .zip(&core.alive)
            .filter(|(_, &a)| a)
            .map(|(&(r, a), _)| (readers[r as usize].clone(), articles[a as usize].clone()))
            .collect();
        (kept, core.passes)
    }

    fn named(edges: &[(&str, &str)]) -> Vec<(String, String)> {
        edges
            .iter()
            .map(|(r, a)| (r.to_string(), a.to_string()))
            .collect()
    }

    #[test]
    fn a_reader_with_one_article_is_filtered() {
        let (kept, _) = survivors(&[("r1", "a"), ("r1", "b"), ("r2", "a"), ("r2", "b"), ("r3", "a")]);
        assert_eq!(kept, named(&[("r1", "a"), ("r1", "b"), ("r2", "a"), ("r2", "b")]));
    }

    #[test]
    fn reaches_the_fixed_point_where_one_pass_is_not_enough() {
        // r1,r2 x a,b is a 2-core. The chain r3-c, r4-c/d, r5-d/e, r6-e peels only
        // when iterated: r3 and r6 go (one article each), then c and e have one
        // reader, then r4 and r5 have one article, then d has none.
        let edges = [
            ("r1", "a"),
            ("r1", "b"),
            ("r2", "a"),
            ("r2", "b"),
            ("r3", "c"),
            ("r4", "c"),
            ("r4", "d"),
            ("r5", "d"),
            ("r5", "e"),
            ("r6", "e"),
        ];
        let (pairs, readers, articles) = coded(&edges);
        let core = filter(&pairs, readers.len(), articles.len(), 2);
        let (kept, passes) = survivors(&edges);
        assert_eq!(kept, named(&[("r1", "a"), ("r1", "b"), ("r2", "a"), ("r2", "b")]));
        assert!(passes >= 3, "passes = {passes}");
        // one pass alone leaves part of the chain: r4-d and r5-d survive it
        let mut alive_after_one = vec![true; pairs.len()];
        let mut deg = vec![0; readers.len()];
        pairs.iter().for_each(|&(r, _)| deg[r as usize] += 1);
        for (i, &(r, _)) in pairs.iter().enumerate() {
            alive_after_one[i] = deg[r as usize] >= 2;
        }
        let mut adeg = vec![0; articles.len()];
        pairs
            .iter()
            .zip(&alive_after_one)
            .filter(|(_, &a)| a)
            .for_each(|(&(_, t), _)| adeg[t as usize] += 1);
        let left = pairs
            .iter()
            .zip(&alive_after_one)
            .filter(|(&(_, t), &a)| a && adeg[t as usize] >= 2)
            .count();
        assert!(left > 4, "one pass should leave some of the chain ({left} pairs)");
        // a fixed point: filtering the survivors again changes nothing, in one pass
        let again: Vec<(u32, u32)> = pairs
            .iter()
            .zip(&core.alive)
            .filter(|(_, &a)| a)
            .map(|(p, _)| *p)
            .collect();
        let twice = filter(&again, readers.len(), articles.len(), 2);
        assert!(twice.alive.iter().all(|&a| a));
        assert_eq!(twice.passes, 1);
    }

    #[test]
    fn nothing_survives_a_star() {
        let (kept, passes) = survivors(&[("r1", "a"), ("r2", "a"), ("r3", "a")]);
        assert!(kept.is_empty());
        assert_eq!(passes, 2);
    }
}
